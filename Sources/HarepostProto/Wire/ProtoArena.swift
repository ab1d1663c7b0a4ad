internal import CHarepostProto

/// The arena a C message is built or unpacked in (`hp_arena`): its first
/// bytes on the caller's stack, more from the heap when a message needs
/// them, and everything freed at once when the body returns. A message has
/// tens of strings and sub-messages, which protobuf-c otherwise allocates
/// and frees one by one.
enum ProtoArena {
    /// Enough for the envelope and the usual request or answer.
    static let stackBytes = 2048

    /// Runs `body` with a fresh arena; nothing allocated in it may outlive the call.
    static func with<Result, Failure: Error>(
        _ body: (UnsafeMutablePointer<hp_arena>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try withUnsafeTemporaryAllocation(byteCount: stackBytes, alignment: 16) { buffer throws(Failure) in
            let arena = hp_arena_init(buffer.baseAddress!, buffer.count)!
            defer { hp_arena_release(arena) }
            return try body(arena)
        }
    }
}
