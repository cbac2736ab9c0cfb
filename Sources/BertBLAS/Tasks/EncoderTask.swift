import Foundation

/// A task as three stages around the encoder, so that whoever runs forward passes (a direct call
/// with a borrowed workspace, or the batching engine mixing many callers' sequences) can batch
/// sequences from several inputs:
///
/// 1. `encode`: input → one or more encodings (QA and long documents give several windows);
/// 2. `read`: one sequence of an encoder output → what the task keeps of it (a pooled vector,
///    logits), on the thread that ran the encoder, while the workspace is valid;
/// 3. `finish`: an input's partials, in encoding order → the result.
public protocol EncoderTask: Sendable {
    associatedtype Input: Sendable
    associatedtype Partial: Sendable
    associatedtype Output: Sendable

    /// The loaded model whose encoder this task reads.
    var model: LoadedModel { get }

    /// Tokenizes one input.
    ///
    /// - Throws: `BertError.invalidInput` naming the input's problem (empty, too long, ...).
    func encode(_ input: Input) throws -> [Encoding]

    /// Reads sequence `b` of `output` (the encoding it came from is `encoding`); `workspace` is the
    /// one `output` points into, for head scratch.
    func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> Partial

    /// `read` with the input the encoding came from, for tasks whose reading depends on it
    /// (fill-mask's `topK`, a scored example's labels). Runners call this one; by default it is
    /// `read(_:sequence:encoding:workspace:)`.
    func read(_ output: EncoderOutput, sequence b: Int, input: Input, encoding: Encoding,
              workspace: Workspace) throws -> Partial

    /// Combines one input's partials (one per encoding, in order) into its result.
    func finish(_ input: Input, encodings: [Encoding], partials: [Partial]) throws -> Output
}

extension EncoderTask {
    public func read(_ output: EncoderOutput, sequence b: Int, input: Input, encoding: Encoding,
                     workspace: Workspace) throws -> Partial {
        try read(output, sequence: b, encoding: encoding, workspace: workspace)
    }

    /// Runs the task on `inputs` in this thread, in batches of at most `batchSize` sequences, with
    /// a workspace borrowed from the model's pool; one result per input, in input order.
    ///
    /// This is the one batching loop of direct calls: an input that fails (empty, too long, a
    /// sequence the encoder refuses) gets its own `.failure` and the others still run.
    /// - Parameters:
    ///   - inputs: the inputs.
    ///   - batchSize: sequences per forward pass (default 32).
    ///   - progress: called after each forward pass with (sequences done, sequences total).
    /// - Throws: only for the whole call: `BertError.invalidInput` for a `batchSize` below 1 or a
    ///   workspace that cannot be allocated.
    public func results(_ inputs: [Input], batchSize: Int = 32,
                        progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> [Result<Output, any Error>] {
        guard batchSize >= 1 else {
            throw BertError(.invalidInput, "batchSize must be at least 1, got \(batchSize)")
        }
        var failures = [(any Error)?](repeating: nil, count: inputs.count)
        var encoded = [[Encoding]](repeating: [], count: inputs.count)
        var sequences: [(input: Int, slot: Int, encoding: Encoding)] = []
        for (i, input) in inputs.enumerated() {
            do {
                let encodings = try encode(input)
                for encoding in encodings { _ = try model.encoder.checkFits(encoding, input: i) }
                encoded[i] = encodings
                for (slot, encoding) in encodings.enumerated() { sequences.append((i, slot, encoding)) }
            } catch {
                failures[i] = error
            }
        }
        var partials = encoded.map { [Partial?](repeating: nil, count: $0.count) }
        if !sequences.isEmpty {
            let longest = sequences.map { BertModel.realTokens($0.encoding) }.max() ?? 1
            let batch = min(batchSize, sequences.count)
            try model.workspaces.withWorkspace(maxBatch: batch, maxLength: longest) { workspace in
                var first = 0
                while first < sequences.count {
                    let slice = sequences[first..<min(first + batch, sequences.count)]
                    first += slice.count
                    let output: EncoderOutput
                    do {
                        output = try model.encoder.forward(slice.map(\.encoding), workspace: workspace)
                    } catch {
                        for item in slice where failures[item.input] == nil { failures[item.input] = error }
                        continue
                    }
                    for (b, item) in slice.enumerated() where failures[item.input] == nil {
                        do {
                            partials[item.input][item.slot] =
                                try read(output, sequence: b, input: inputs[item.input], encoding: item.encoding,
                                         workspace: workspace)
                        } catch {
                            failures[item.input] = error
                        }
                    }
                    progress?(first, sequences.count)
                }
            }
        }
        return inputs.indices.map { i in
            if let failure = failures[i] { return .failure(failure) }
            return Result { try finish(inputs[i], encodings: encoded[i], partials: partials[i].compactMap { $0 }) }
        }
    }

    /// Runs the task on `inputs` (see `results`); results keep the input order.
    ///
    /// - Throws: the first failing input's error, `BertError.invalidInput` for a `batchSize` below 1.
    public func run(_ inputs: [Input], batchSize: Int = 32) throws -> [Output] {
        try results(inputs, batchSize: batchSize).map { try $0.get() }
    }

    /// Runs the task on one input.
    public func run(_ input: Input) throws -> Output {
        try run([input])[0]
    }
}

/// Checks shared by the tasks' `encode`.
enum TaskInput {
    /// Requires a non-empty, non-blank text; `what` names it in the error ("text", "question").
    static func requireText(_ text: String, _ what: String) throws {
        guard text.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            throw BertError(.invalidInput, "\(what) is empty")
        }
    }
}
