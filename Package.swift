// swift-tools-version: 6.1
//
// Kujira — a container engine for Linux, shipped as a library.
// The module map is Docs/architecture.md; each module imports only the ones below it.

import PackageDescription

/// Settings shared by every Swift target: Swift 6 language mode is the package default;
/// these add the upcoming features that keep the code honest.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// A system library provided by a Debian `-dev` package (installed by scripts/setup.sh).
func systemLibrary(_ name: String, apt: String) -> Target {
    .systemLibrary(name: name, path: "Sources/\(name)", providers: [.apt([apt])])
}

let package = Package(
    name: "Kujira",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "KujiraOCI", targets: ["KujiraOCI"]),
        .library(name: "KujiraArchive", targets: ["KujiraArchive"]),
        .library(name: "KujiraImage", targets: ["KujiraImage"]),
        .library(name: "KujiraDockerfile", targets: ["KujiraDockerfile"]),
        // The umbrella product: everything an embedding program needs.
        .library(name: "Kujira", targets: ["KujiraOCI", "KujiraArchive", "KujiraImage"]),
        .executable(name: "kujira", targets: ["kujira"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries from Debian (see Docs/architecture.md for why each one).
        systemLibrary("CZlib", apt: "zlib1g-dev"),
        systemLibrary("CZstd", apt: "libzstd-dev"),
        systemLibrary("CSQLite", apt: "libsqlite3-dev"),
        systemLibrary("CCrypto", apt: "libssl-dev"),
        systemLibrary("CSeccomp", apt: "libseccomp-dev"),
        systemLibrary("CCap", apt: "libcap-dev"),
        // Wrappers for syscalls Swift cannot call directly (openat2, fchmodat2, makedev).
        .target(name: "CKujiraSys"),

        .target(
            name: "KujiraOCI",
            dependencies: ["CCrypto"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KujiraArchive",
            dependencies: ["CZlib", "CZstd"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KujiraImage",
            dependencies: ["KujiraOCI", "KujiraArchive", "CSQLite", "CKujiraSys"],
            swiftSettings: swiftSettings
        ),

        // Dockerfile parser, instruction model, expansion and .dockerignore: pure, no I/O.
        .target(
            name: "KujiraDockerfile",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "kujira-dockerfile-bench",
            dependencies: ["KujiraDockerfile"],
            path: "Benchmarks/DockerfileBench",
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "kujira",
            dependencies: [
                "KujiraOCI", "KujiraArchive", "KujiraImage", "KujiraDockerfile",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/kujira",
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "KujiraOCITests",
            dependencies: ["KujiraOCI"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiraArchiveTests",
            dependencies: ["KujiraArchive"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiraImageTests",
            dependencies: ["KujiraImage", "KujiraOCI", "KujiraArchive"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiraDockerfileTests",
            dependencies: ["KujiraDockerfile"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiraIntegrationTests",
            dependencies: ["KujiraImage", "KujiraOCI", "KujiraArchive"],
            swiftSettings: swiftSettings
        ),
    ]
)
