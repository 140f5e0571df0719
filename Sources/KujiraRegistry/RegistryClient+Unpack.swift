import Foundation
import KujiraImage
import KujiraOCI
import Synchronization

/// Blobs of a pull that are complete in the content store, with waiters for the rest: lets
/// unpacking start on layer 1 while layer 2 is still downloading.
final class BlobArrivals: Sendable {
    private struct State {
        var arrived: Set<Digest> = []
        var failed = false
        var waiters: [Digest: [CheckedContinuation<Void, any Error>]] = [:]
    }
    private let state = Mutex(State())

    init(present: some Sequence<Digest>) {
        state.withLock { $0.arrived.formUnion(present) }
    }

    /// Records that `digest` is committed to the content store.
    func arrived(_ digest: Digest) {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.arrived.insert(digest)
            return state.waiters.removeValue(forKey: digest) ?? []
        }
        for waiter in waiting { waiter.resume() }
    }

    /// Wakes every waiter with an error: the downloads stopped.
    func fail() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.failed = true
            defer { state.waiters.removeAll() }
            return state.waiters.values.flatMap { $0 }
        }
        for waiter in waiting { waiter.resume(throwing: CancellationError()) }
    }

    /// Returns once `digest` has arrived; throws if the downloads failed first.
    func wait(for digest: Digest) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, any Error>? = state.withLock { state in
                if state.arrived.contains(digest) { return .success(()) }
                if state.failed { return .failure(CancellationError()) }
                state.waiters[digest, default: []].append(continuation)
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }
}

extension RegistryClient {
    /// Unpacks the layers of `manifest` into overlay snapshots in order, each as soon as it
    /// and the layers below it have arrived, while later layers still download. Each
    /// snapshot is verified (blob digest and diff_id) and committed by ``SnapshotStore``.
    func unpackAsLayersArrive(
        _ manifest: Manifest, reference: Reference, store: ImageStore, snapshots: SnapshotStore,
        arrivals: BlobArrivals, emit: @escaping @Sendable (PullEvent) -> Void
    ) async throws {
        try await arrivals.wait(for: manifest.config.digest)
        let diffIDs: [Digest] = try await blocking { _ in
            let bytes = try store.content.read(manifest.config.digest)
            return try CanonicalJSON.decode(ImageConfiguration.self, from: bytes, what: "image config of \(reference)").rootfs.diffIDs
        }
        guard diffIDs.count == manifest.layers.count else {
            throw RegistryError(.store, "the image config of \(reference) lists \(diffIDs.count) diff_ids for \(manifest.layers.count) layers; the image is malformed")
        }
        for index in manifest.layers.indices {
            let layer = manifest.layers[index]
            try await arrivals.wait(for: layer.digest)
            emit(.blob(layer, .extracting))
            let layers = Array(manifest.layers[...index]), prefix = Array(diffIDs[...index])
            _ = try await blocking { _ in
                try snapshots.ensureUnpacked(layers: layers, diffIDs: prefix, image: reference.description)
            }
            emit(.blob(layer, .done))
        }
    }
}
