/// Docker-style random container names: `adjective_surname` (moby `namesgenerator`).
enum NameGenerator {
    static let adjectives = [
        "admiring", "adoring", "agitated", "amazing", "angry", "awesome", "bold", "brave", "busy", "charming",
        "clever", "cool", "compassionate", "confident", "dazzling", "determined", "eager", "ecstatic", "elastic",
        "elegant", "epic", "exciting", "fervent", "festive", "focused", "friendly", "funny", "gallant", "gifted",
        "goofy", "gracious", "happy", "hopeful", "hungry", "infallible", "inspiring", "jolly", "keen", "kind",
        "laughing", "loving", "lucid", "magical", "modest", "musing", "nice", "nifty", "nostalgic", "objective",
        "optimistic", "peaceful", "pensive", "practical", "priceless", "quirky", "relaxed", "romantic", "serene",
        "sharp", "silly", "sleepy", "stoic", "sweet", "tender", "trusting", "upbeat", "vibrant", "vigilant",
        "wizardly", "wonderful", "youthful", "zealous", "zen",
    ]
    static let surnames = [
        "agnesi", "albattani", "allen", "archimedes", "babbage", "banach", "bardeen", "bartik", "bell", "bhabha",
        "blackwell", "bohr", "booth", "borg", "brahmagupta", "cannon", "carson", "cerf", "chandrasekhar", "curie",
        "darwin", "dijkstra", "einstein", "elion", "euclid", "euler", "fermat", "fermi", "feynman", "franklin",
        "galileo", "gauss", "goldberg", "goodall", "hamilton", "hawking", "heisenberg", "hopper", "hypatia",
        "jackson", "johnson", "kepler", "knuth", "lamarr", "leakey", "lovelace", "mcclintock", "meitner",
        "morse", "newton", "noether", "pascal", "pasteur", "ritchie", "shannon", "sinoussi", "tesla",
        "thompson", "torvalds", "turing", "wilson", "wozniak", "wright", "yalow", "yonath",
    ]

    /// A random name; `retry` > 0 appends a digit, as Docker does after a collision.
    static func random(retry: Int = 0) -> String {
        let name = "\(adjectives.randomElement() ?? "kujira")_\(surnames.randomElement() ?? "whale")"
        return retry > 0 ? "\(name)\(Int.random(in: 0...9))" : name
    }

    /// Whether `name` is a valid container name (Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
    static func isValid(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.count >= 2 else { return false }
        func alnum(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) }
        return alnum(first) && name.unicodeScalars.allSatisfy { alnum($0) || $0 == "_" || $0 == "." || $0 == "-" }
    }
}
