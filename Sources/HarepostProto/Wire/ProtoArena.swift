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

/// The arena's observable behaviour, for tests, without its C types: they
/// reach the C target only through this wrapper.
enum ProtoArenaProbe {
    /// Blocks the arenas of this thread hold now (each arena's heap blocks
    /// count until it is released).
    static var liveBlocksOnThisThread: Int { Int(hp_thread_live_allocations()) }

    /// Runs `body` with an arena laid out in a `bufferBytes`-byte buffer of
    /// its own: `allocate` takes memory from it, `buffer` is where the arena
    /// starts. Everything is released when `body` returns.
    static func withArena<Result>(
        bufferBytes: Int,
        _ body: (_ allocate: (Int) -> UnsafeMutableRawPointer?, _ buffer: UnsafeMutableRawBufferPointer) -> Result
    ) -> Result {
        withUnsafeTemporaryAllocation(byteCount: bufferBytes, alignment: 16) { buffer in
            let arena = hp_arena_init(buffer.baseAddress!, buffer.count)!
            defer { hp_arena_release(arena) }
            return body({ hp_arena_alloc(arena, $0) }, buffer)
        }
    }
}
