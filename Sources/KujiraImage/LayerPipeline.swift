#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import KujiraArchive
import KujiraOCI

/// A bounded queue of large byte buffers between two threads: the producer fills a free slot
/// (reading, hashing and inflating a layer blob), the consumer reads filled slots in order
/// (parsing tar and writing files). It gives a layer unpack the parallelism GNU tar gets from
/// running `gzip -d` as a separate process, with no allocation per chunk: the slots are
/// allocated once.
///
/// `@unchecked Sendable`: every mutable field is touched only with `mutex` held, and each
/// slot's bytes belong to exactly one side at a time (the producer between ``acquireEmpty()``
/// and ``publish(_:length:)``, the consumer between ``acquireFilled()`` and ``release()``).
final class ChunkQueue: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let changed: UnsafeMutablePointer<pthread_cond_t>
    private let slots: [UnsafeMutableRawBufferPointer]
    private var lengths: [Int]
    private var head = 0
    private var count = 0
    private var producerDone = false
    private var producerError: (any Error)?
    private var cancelled = false

    /// Creates `slotCount` slots of `slotSize` bytes each.
    init(slotCount: Int, slotSize: Int) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        changed = .allocate(capacity: 1)
        changed.initialize(to: pthread_cond_t())
        pthread_cond_init(changed, nil)
        slots = (0..<max(slotCount, 2)).map { _ in
            UnsafeMutableRawBufferPointer.allocate(byteCount: slotSize, alignment: 64)
        }
        lengths = Array(repeating: 0, count: slots.count)
    }

    deinit {
        for slot in slots { slot.deallocate() }
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Producer: waits for a free slot; nil once the consumer cancelled.
    func acquireEmpty() -> UnsafeMutableRawBufferPointer? {
        locked {
            while count == slots.count && !cancelled { pthread_cond_wait(changed, mutex) }
            return cancelled ? nil : slots[(head + count) % slots.count]
        }
    }

    /// Producer: hands the slot from the last ``acquireEmpty()`` to the consumer.
    func publish(length: Int) {
        locked {
            lengths[(head + count) % slots.count] = length
            count += 1
            pthread_cond_broadcast(changed)
        }
    }

    /// Producer: no more slots will come; `error` (if any) is thrown to the consumer after
    /// the slots already published.
    func finish(error: (any Error)?) {
        locked {
            producerDone = true
            producerError = error
            pthread_cond_broadcast(changed)
        }
    }

    /// Consumer: waits for the next filled slot; nil at the end of the stream.
    func acquireFilled() throws -> UnsafeRawBufferPointer? {
        let (slot, error): (UnsafeRawBufferPointer?, (any Error)?) = locked {
            while count == 0 && !producerDone { pthread_cond_wait(changed, mutex) }
            if count > 0 {
                return (UnsafeRawBufferPointer(rebasing: slots[head][0..<lengths[head]]), nil)
            }
            return (nil, producerError)
        }
        if let error { throw error }
        return slot
    }

    /// Consumer: gives the slot from the last ``acquireFilled()`` back to the producer.
    func release() {
        locked {
            head = (head + 1) % slots.count
            count -= 1
            pthread_cond_broadcast(changed)
        }
    }

    /// Consumer: stop the producer (it sees nil from its next ``acquireEmpty()``).
    func cancel() {
        locked {
            cancelled = true
            pthread_cond_broadcast(changed)
        }
    }
}

/// The consumer side of a ``ChunkQueue`` as a ``ByteSource``, hashing every byte it hands
/// out (the diff_id hash runs on the consumer thread, which balances the two threads: the
/// producer inflates, the consumer hashes, parses and writes).
final class ChunkQueueSource: ByteSource {
    private let queue: ChunkQueue
    private var current: UnsafeRawBufferPointer?
    private var position = 0
    private var ended = false
    /// The hash of every byte read so far.
    var hasher: DigestHasherBox
    /// The number of bytes read so far.
    private(set) var total: UInt64 = 0

    init(_ queue: ChunkQueue, hasher: DigestHasherBox) {
        self.queue = queue
        self.hasher = hasher
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0, let out = buffer.baseAddress else { return 0 }
        while true {
            if let chunk = current {
                let n = min(buffer.count, chunk.count - position)
                if n > 0, let base = chunk.baseAddress {
                    let bytes = UnsafeRawBufferPointer(start: base + position, count: n)
                    hasher.update(bytes)
                    out.copyMemory(from: base + position, byteCount: n)
                    position += n
                    total += UInt64(n)
                    return n
                }
                queue.release()
                current = nil
            }
            if ended { return 0 }
            guard let next = try queue.acquireFilled() else { ended = true; return 0 }
            current = next
            position = 0
        }
    }
}

/// A ``DigestHasher`` (non-copyable) held in a class, so closures and sources can share it.
final class DigestHasherBox {
    private var hasher: DigestHasher?
    let algorithm: Digest.Algorithm

    init(_ algorithm: Digest.Algorithm) {
        self.algorithm = algorithm
        hasher = DigestHasher(algorithm)
    }

    /// The number of bytes hashed.
    private(set) var total: UInt64 = 0

    func update(_ bytes: UnsafeRawBufferPointer) {
        total += UInt64(bytes.count)
        hasher?.update(bytes)
    }

    /// The digest of everything seen; the box cannot be used afterwards.
    func finalize() -> Digest? {
        guard let hasher = hasher.take() else { return nil }
        return hasher.finalize()
    }
}
