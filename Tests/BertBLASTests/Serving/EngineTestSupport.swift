import Foundation
import Testing
@testable import BertBLAS

/// A small embedding task for the engine's tests: mean pooling of the last hidden state, then L2
/// normalization (all-MiniLM-L6-v2's sentence embedding).
struct MeanPoolTask: EncoderTask {
    let model: LoadedModel
    var maxLength = 128
    /// Inputs equal to this text fail in `encode` (to test that one bad request fails alone).
    var rejecting: String? = nil
    /// When set, `encode` waits here first (to cancel a caller while it tokenizes).
    var encodeGate: Gate? = nil

    func encode(_ input: String) throws -> [Encoding] {
        encodeGate?.wait()
        if input == rejecting { throw BertError(.invalidInput, "rejected input") }
        return [model.tokenizer.encode(input, truncation: Truncation(maxLength: maxLength))]
    }

    func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> [Float] {
        let h = output.hiddenSize, states = output.hiddenStates(sequence: b), count = output.lengths[b]
        var vector = [Float](repeating: 0, count: h)
        for t in 0..<count { for j in 0..<h { vector[j] += states[t * h + j] } }
        for j in 0..<h { vector[j] /= Float(count) }
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return vector.map { $0 / max(norm, 1e-12) }
    }

    func finish(_ input: String, encodings: [Encoding], partials: [[Float]]) throws -> [Float] {
        guard partials.count == 1 else { throw BertError(.invalidInput, "expected one partial, got \(partials.count)") }
        return partials[0]
    }
}

/// A one-way gate a worker thread waits at (in `onBatch`), so tests can fill the queue while the
/// worker is busy without relying on timing.
final class Gate: @unchecked Sendable {
    // `lock` protects `open` and `waiting`.
    private let lock = NSCondition()
    private var open = false
    private var waiting = 0

    func wait() {
        lock.lock()
        waiting += 1
        while !open { lock.wait() }
        waiting -= 1
        lock.unlock()
    }

    func release() {
        lock.lock()
        open = true
        lock.broadcast()
        lock.unlock()
    }

    var hasWaiter: Bool {
        lock.lock()
        defer { lock.unlock() }
        return waiting > 0
    }
}

/// Collects every `BatchReport`.
final class Reports: @unchecked Sendable {
    // `lock` protects `all`.
    private let lock = NSLock()
    private var all: [BatchReport] = []
    func append(_ report: BatchReport) { lock.lock(); all.append(report); lock.unlock() }
    var list: [BatchReport] { lock.lock(); defer { lock.unlock() }; return all }
}

enum EngineTesting {
    /// MiniLM, loaded once for the suite.
    static let model: LoadedModel? = try? LoadedModel(directory: Paths.miniLM)

    static func requireModel(sourceLocation: SourceLocation = #_sourceLocation) throws -> LoadedModel {
        try #require(model, "all-MiniLM-L6-v2 is missing from \(Paths.miniLM.path): run make models",
                     sourceLocation: sourceLocation)
    }

    /// Waits (polling, up to 60 s) until `condition` holds; records an issue if it never does.
    static func waitUntil(_ what: String, sourceLocation: SourceLocation = #_sourceLocation,
                          _ condition: () -> Bool) async throws {
        for _ in 0..<60_000 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(1))
        }
        Issue.record("timed out waiting until \(what)", sourceLocation: sourceLocation)
    }

    /// The largest |a − b| over the scale of `b`, max(1, max |b|).
    ///
    /// A vector's rounding depends on the tokens sharing its pass and on the threads splitting it
    /// (OpenBLAS sums in an order that depends on the product's shape; docs/SERVER.md), by a few
    /// ulps of its largest values: normalized vectors differ by at most 1.5e-7, mean-pooled hidden
    /// states with values up to 3 by up to 1.5e-6. Relative to the scale, 1e-6 bounds both.
    static func scaledDiff(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        let scale = max(1, b.map(abs).max() ?? 0)
        return (zip(a, b).map { abs($0 - $1) }.max() ?? 0) / scale
    }

    /// Varied real sentences (1 to ~60 words).
    static let sentences: [String] = [
        "Hi.",
        "The movie was great.",
        "A warm, funny and beautifully acted film; the best thing I have seen this year.",
        "Two hours of my life I will never get back. Flat jokes, wooden acting, no plot.",
        "The director keeps the tension high until the last frame, and the score is haunting.",
        "A lazy sequel that recycles every gag from the original and forgets to be funny.",
        "Clumsy in places, but its heart is in the right place and the cast is wonderful.",
        "Visually stunning, emotionally empty: a beautiful bore.",
        "Unaffable.",
        "It is not a bad film, exactly, but it never decides what it wants to be, and by the end the audience has stopped caring about the answer; the performances are committed, the photography handsome, the music loud, and none of it adds up to a story anyone will remember a week later, which is a pity given the talent involved.",
        "Paris is the capital of France.",
        "Quantum entanglement links particles across distance.",
        "I'd rather watch paint dry!",
        "Über-stylish, ça va sans dire — a très chic thriller.",
        "東京は日本の首都です。",
        "",
    ]
}
