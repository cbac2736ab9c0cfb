import Foundation

/// One caller's request as the engine's queue and workers see it, whatever its task.
///
/// `@unchecked Sendable`: `remaining`, `continuation`, `resolved` and `cancelled` are read and
/// written only under the lock of the `BatchQueue` the request is in. Subclasses protect their own
/// storage.
class EngineRequest: @unchecked Sendable {
    /// Its sequences, in encoding order; `slot` indexes them.
    let encodings: [Encoding]
    /// Real tokens (before any padding) of each sequence.
    let tokens: [Int]
    // Guarded by the queue's lock:
    /// Sequences not read yet.
    var remaining: Int
    /// Resumed exactly once, when `resolved` becomes true.
    var continuation: CheckedContinuation<Void, Error>?
    /// Answered, failed or cancelled: its sequences are skipped or their reads dropped.
    var resolved = false
    /// The caller's task was cancelled (possibly before it was enqueued).
    var cancelled = false

    init(encodings: [Encoding], tokens: [Int]) {
        self.encodings = encodings
        self.tokens = tokens
        remaining = encodings.count
    }

    /// Reads sequence `b` of `output` (its sequence number `slot`) and keeps the result. Runs on a
    /// worker thread, outside the queue's lock; two workers may read different slots at once.
    func read(_ output: EncoderOutput, sequence b: Int, slot: Int, workspace: Workspace) throws {}
}

/// A request of a concrete task: keeps each sequence's partial until the caller finishes it.
final class TaskRequest<Task: EncoderTask>: EngineRequest, @unchecked Sendable {
    let task: Task
    let inputs: [Task.Input]
    /// The input each sequence came from.
    let inputOfSlot: [Int]
    /// `partials` is written by workers (one slot each) and read by the caller once the request is
    /// resolved; `lock` orders both.
    private let lock = NSLock()
    private var partials: [Task.Partial?]

    init(task: Task, inputs: [Task.Input], encodings: [Encoding], inputOfSlot: [Int], tokens: [Int]) {
        self.task = task
        self.inputs = inputs
        self.inputOfSlot = inputOfSlot
        partials = [Task.Partial?](repeating: nil, count: encodings.count)
        super.init(encodings: encodings, tokens: tokens)
    }

    override func read(_ output: EncoderOutput, sequence b: Int, slot: Int, workspace: Workspace) throws {
        let partial = try task.read(output, sequence: b, input: inputs[inputOfSlot[slot]], encoding: encodings[slot],
                                    workspace: workspace)
        lock.lock()
        partials[slot] = partial
        lock.unlock()
    }

    /// The partials of sequences `range`, in order (all present once the request succeeded).
    func partials(_ range: Range<Int>) -> [Task.Partial] {
        lock.lock()
        defer { lock.unlock() }
        return partials[range].compactMap { $0 }
    }
}
