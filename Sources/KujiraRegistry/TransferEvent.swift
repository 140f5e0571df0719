public import KujiraOCI

/// Progress of a pull, as typed events for a CLI to draw as progress bars or a daemon to
/// stream as JSON. Events for different blobs interleave; events for one blob come in order.
public enum PullEvent: Sendable, Hashable {
    /// Resolving the reference to a manifest or index.
    case resolving(Reference)
    /// The reference resolved: the tagged document, and the manifests chosen from it.
    case resolved(root: Descriptor, manifests: [Descriptor])
    /// A blob (config or layer) changed state.
    case blob(Descriptor, BlobState)
    /// Totals over every blob to fetch, sent as bytes arrive.
    case overall(completedBytes: Int64, totalBytes: Int64)
    /// The image is in the store under this name.
    case tagged(name: String, target: Descriptor)

    /// What is happening to one blob.
    public enum BlobState: Sendable, Hashable {
        /// Queued behind other downloads.
        case waiting
        /// Already in the content store: not fetched.
        case alreadyExists
        /// Bytes received so far of the total.
        case downloading(bytes: Int64, total: Int64)
        /// The transfer broke; retrying (resuming from `fromByte` with an HTTP range).
        case retrying(attempt: Int, fromByte: Int64, reason: String)
        /// Hashing and committing to the content store.
        case verifying
        /// Unpacking into a snapshot.
        case extracting
        /// Done.
        case done
    }
}

/// Progress of a push.
public enum PushEvent: Sendable, Hashable {
    /// A blob (config or layer) changed state.
    case blob(Descriptor, BlobState)
    /// A manifest or index was uploaded, under `tag` or by digest.
    case manifest(Descriptor, tag: String?)
    /// Totals over every blob to upload, sent as bytes go out.
    case overall(completedBytes: Int64, totalBytes: Int64)

    /// What is happening to one blob.
    public enum BlobState: Sendable, Hashable {
        /// Queued behind other uploads.
        case waiting
        /// The registry already has it in this repository.
        case alreadyExists
        /// Mounted from another repository of the same registry, without uploading.
        case mounted(from: String)
        /// Bytes sent so far of the total.
        case uploading(bytes: Int64, total: Int64)
        /// Done.
        case done
    }
}
