import ArgumentParser
import BertBLAS
import Foundation

extension PoolingMode: ExpressibleByArgument {}

/// `bert embed`: one sentence embedding per input line, as sentence-transformers' `encode`.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed each input line as a sentence vector (sentence-transformers compatible).",
        discussion: """
            Prints one JSON object per input line: {"embedding": [float, ...]}. Defaults come from \
            the sentence-transformers files of the model folder when present: the pooling mode \
            (1_Pooling/config.json), normalization (a Normalize module in modules.json) and \
            max_seq_length (sentence_bert_config.json; 256 for all-MiniLM-L6-v2). Without them: \
            mean pooling, no normalization, and the tokenizer's model_max_length capped by \
            max_position_embeddings, with a note on stderr. Longer lines are truncated. When the \
            output goes to a file or pipe and stderr is a terminal, a progress line (count and \
            rate) shows on stderr after the first second.
            """)

    @OptionGroup var model: ModelOptions

    @Option(help: ArgumentHelp("Pooling: mean, cls, max or mean_sqrt_len. Default: the folder's 1_Pooling/config.json, else mean.",
                               valueName: "mode"))
    var pooling: PoolingMode?

    @Flag(inversion: .prefixedNo, help: "L2-normalize the vectors. Default: on when modules.json lists a Normalize module, else off.")
    var normalize: Bool?

    @Option(parsing: .unconditional, help: ArgumentHelp("Truncate to this many tokens, [CLS] and [SEP] included. Default: max_seq_length from sentence_bert_config.json, else the tokenizer's model_max_length. Never more than max_position_embeddings.",
                               valueName: "n"))
    var maxLength: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Lines per forward pass.", valueName: "n"))
    var batchSize: Int = 32

    @OptionGroup var kernel: KernelOptions

    @Flag(help: "Print the settings in use and the BLAS core on stderr. Default: off.")
    var verbose = false

    @OptionGroup var input: InputFiles

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if let maxLength, maxLength < 2 { throw ValidationError("--max-length must be at least 2 ([CLS] and [SEP])") }
    }

    func run() throws {
        let report = Report()
        let embedder: SentenceEmbedder
        do {
            embedder = try SentenceEmbedder(directory: model.url, kernel: kernel.kernel, pooling: pooling,
                                            normalize: normalize, maxLength: maxLength)
        } catch {
            try report.abort(HeadCommand.message(error))
        }
        for note in embedder.notes {
            FileHandle.standardError.write(Data("note: \(model.model): \(note)\n".utf8))
        }
        if let maxLength, maxLength > embedder.maxLength {
            FileHandle.standardError.write(Data(
                "note: --max-length \(maxLength) is more than the model's \(embedder.maxLength) positions: using \(embedder.maxLength)\n".utf8))
        }
        if verbose {
            let pooling = embedder.pooling.map(\.rawValue).joined(separator: "+")
            let selection = BLASRuntime.selection.map { " (\($0))" } ?? ""
            FileHandle.standardError.write(Data("""
                embed: pooling \(pooling), normalize \(embedder.normalize), max length \(embedder.maxLength), \
                dimension \(embedder.dimension), kernel \(kernel.kernel), BLAS core \(BLASRuntime.coreName)\(selection), \
                threads \(BLASRuntime.threads)\n
                """.utf8))
        }
        var pending: [TextLine] = []
        // Progress only when the vectors go to a file or pipe, so it never interleaves with them.
        let progress = ProgressBar(label: "embedding", unit: "lines", enabled: Terminal.stderrIsTTY && !Terminal.stdoutIsTTY)
        var done = 0
        func flush() {
            guard !pending.isEmpty else { return }
            defer {
                done += pending.count
                progress.update(done)
                pending.removeAll(keepingCapacity: true)
            }
            // One result per line: a line that fails gets its error record, the others their vectors.
            let results: [Result<[Float], any Error>]
            do {
                results = try embedder.results(pending.map(\.text), batchSize: batchSize)
            } catch {
                results = pending.map { _ in .failure(error) }
            }
            for (line, result) in zip(pending, results) {
                switch result {
                case .success(let vector):
                    JSONLines.write(EmbeddingRecord(embedding: vector))
                case .failure(let error):
                    report.fail("\(line.source):\(line.number): \(HeadCommand.message(error))")
                    JSONLines.write(JSONLines.error(HeadCommand.message(error), line: line))
                }
            }
        }
        input.forEachLine(report) { line in
            pending.append(line)
            if pending.count >= batchSize { flush() }
        }
        flush()
        progress.finish()
        try report.finish()
    }

    /// One output line: `{"embedding":[...]}`.
    struct EmbeddingRecord: Encodable {
        var embedding: [Float]
    }
}
