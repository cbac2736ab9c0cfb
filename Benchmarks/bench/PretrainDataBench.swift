import ArgumentParser
import BertBLAS
import Foundation

/// `bench pretrain-data`: masking and NSP example throughput on BBC News.
struct PretrainDataBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain-data",
        abstract: "Masked-LM masking and NSP example building throughput on BBC News (examples/s, tokens/s).",
        discussion: """
            The BBC News articles are tokenized (one sentence per line, one document per article), \
            then each article's tokens are cut into [CLS] + (length - 2) + [SEP] sequences \
            (the last partial piece is dropped). Masking runs per-token (DataCollatorForLanguageModeling) \
            and whole-word (DataCollatorForWholeWordMask) on those sequences, in batches, \
            copying the ids first as a collator would; NSP building runs over the whole corpus with \
            dupe factor 1. Each figure is the best of --passes passes. --write-ids saves the \
            sequences for scripts/bench_collator_hf.py.
            """)

    @Option(name: .long, help: ArgumentHelp("Tokenizer folder.", valueName: "dir"))
    var model = ".cache/models/all-MiniLM-L6-v2"

    @Option(name: .long, help: ArgumentHelp("BBC News folder (one subfolder per topic).", valueName: "dir"))
    var data = ".cache/data/bbcnews"

    @Option(name: .long, help: ArgumentHelp("Tokens per masked sequence.", valueName: "n"))
    var length = 128

    @Option(name: .long, help: ArgumentHelp("Sequences per batch.", valueName: "n"))
    var batch = 32

    @Option(name: .long, help: ArgumentHelp("Timed passes; the best is reported.", valueName: "n"))
    var passes = 5

    @Option(name: .long, help: ArgumentHelp("Write the sequences as raw little-endian int32 to this file. Default: none.", valueName: "path"))
    var writeIds: String?

    func validate() throws {
        if length < 3 { throw ValidationError("--length must be at least 3") }
        if batch < 1 || passes < 1 { throw ValidationError("--batch and --passes must be at least 1") }
    }

    func run() throws {
        let tokenizer = try BertTokenizer(directory: URL(fileURLWithPath: model))
        let vocabulary = try MaskingVocabulary(tokenizer: tokenizer)
        let cls = tokenizer.specialTokens.cls, sep = tokenizer.specialTokens.sep

        // Corpus: one sentence per line, a blank line after each article.
        var lines: [String] = []
        var articles = 0
        for topic in try FileManager.default.contentsOfDirectory(atPath: data).sorted() {
            let folder = URL(fileURLWithPath: data).appendingPathComponent(topic)
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { continue }
            for file in files.sorted() where file.hasSuffix(".txt") {
                let (text, _) = TextLines.decode(try Data(contentsOf: folder.appendingPathComponent(file)))
                for paragraph in text.split(separator: "\n") {
                    lines.append(contentsOf: SentenceSplitter.split(String(paragraph)))
                }
                lines.append("")
                articles += 1
            }
        }
        var start = Date()
        let corpus = PretrainingCorpus.parse(lines: lines) { tokenizer.encode($0, addSpecialTokens: false).ids }
        let tokenizeSeconds = Date().timeIntervalSince(start)
        print("corpus: \(articles) articles, \(corpus.sentenceCount) sentences, \(corpus.tokenCount) tokens "
              + "(tokenized in \(format(tokenizeSeconds)) s)")

        // Fixed-length sequences for the collator comparison.
        let piece = length - 2
        var ids: [Int32] = []
        for document in corpus.documents {
            let tokens = document.flatMap { $0 }
            var offset = 0
            while offset + piece <= tokens.count {
                ids.append(cls)
                ids.append(contentsOf: tokens[offset ..< offset + piece])
                ids.append(sep)
                offset += piece
            }
        }
        let sequences = ids.count / length
        var special = [Int32](repeating: 0, count: ids.count)
        for s in 0 ..< sequences {
            special[s * length] = 1
            special[s * length + length - 1] = 1
        }
        print("sequences: \(sequences) × \(length) tokens, batches of \(batch)")
        if let writeIds {
            let bytes = ids.map { $0.littleEndian }.withUnsafeBytes { Data($0) }
            try bytes.write(to: URL(fileURLWithPath: writeIds))
            print("wrote \(writeIds) (\(bytes.count) bytes, int32 little-endian, \(length) per row)")
        }

        print("")
        print("| task | examples/s | tokens/s | seconds | check |")
        print("|---|---:|---:|---:|---|")
        for (name, policy) in [("mask, per token (DataCollatorForLanguageModeling)", MaskingPolicy.languageModeling()),
                               ("mask, whole word (DataCollatorForWholeWordMask)", .wholeWordCollator())] {
            let masker = try MLMMasker(policy: policy, vocabulary: vocabulary)
            var work = ids
            var labels = [Int32](repeating: 0, count: ids.count)
            var best = Double.infinity
            var selected = 0
            for pass in 0 ..< passes {
                var rng = SeededRandom(seed: UInt64(pass))
                selected = 0
                start = Date()
                work.withUnsafeMutableBufferPointer { w in
                    labels.withUnsafeMutableBufferPointer { l in
                        special.withUnsafeBufferPointer { sp in
                            ids.withUnsafeBufferPointer { src in
                                var b = 0
                                while b < sequences {
                                    let end = min(b + batch, sequences)
                                    // A collator copies the batch before masking it.
                                    let range = b * length ..< end * length
                                    _ = UnsafeMutableBufferPointer(rebasing: w[range])
                                        .initialize(from: UnsafeBufferPointer(rebasing: src[range]))
                                    for s in b ..< end {
                                        let r = s * length ..< (s + 1) * length
                                        selected += masker.maskInPlace(
                                            UnsafeMutableBufferPointer(rebasing: w[r]),
                                            specialTokensMask: UnsafeBufferPointer(rebasing: sp[r]),
                                            labels: UnsafeMutableBufferPointer(rebasing: l[r]), using: &rng)
                                    }
                                    b = end
                                }
                            }
                        }
                    }
                }
                best = min(best, Date().timeIntervalSince(start))
            }
            let rate = Double(selected) / Double(sequences * (length - 2))
            print("| \(name) | \(Int(Double(sequences) / best)) | \(Int(Double(ids.count) / best)) | \(format(best)) "
                  + "| selected \(String(format: "%.4f", rate)) of non-special |")
        }

        let builder = try NSPExampleBuilder(options: NSPOptions(maxSeqLength: length, dupeFactor: 1),
                                            vocabulary: vocabulary, clsId: cls, sepId: sep)
        var best = Double.infinity
        var count = 0, tokens = 0, notNext = 0
        for pass in 0 ..< passes {
            var rng = SeededRandom(seed: UInt64(pass))
            start = Date()
            let examples = try builder.examples(from: corpus, using: &rng)
            best = min(best, Date().timeIntervalSince(start))
            count = examples.count
            tokens = examples.reduce(0) { $0 + $1.inputIds.count }
            notNext = examples.filter { $0.nextSentenceLabel == PretrainingExample.notNext }.count
        }
        print("| NSP + masking, create_pretraining_data (dupe 1) | \(Int(Double(count) / best)) | "
              + "\(Int(Double(tokens) / best)) | \(format(best)) | \(count) examples, NotNext "
              + "\(String(format: "%.4f", Double(notNext) / Double(max(count, 1)))) |")
    }

    private func format(_ seconds: Double) -> String { String(format: "%.4f", seconds) }
}
