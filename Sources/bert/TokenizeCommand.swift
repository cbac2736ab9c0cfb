import ArgumentParser
import BertBLAS
import Foundation

/// `bert tokenize`: one JSON object per input line with ids, type ids, mask, tokens and offsets.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize text like HuggingFace's BertTokenizerFast; one JSON object per input line.",
        discussion: """
            Each output line is {"input_ids":[...],"token_type_ids":[...],"attention_mask":[...],\
            "tokens":[...],"offsets":[[start,end],...]}. Offsets count Unicode code points of the \
            text (of A or B for a pair), as Python does; special tokens get [0,0]. Without \
            --max-length or --truncation nothing is truncated or padded (the padding and truncation \
            stored in tokenizer.json are not applied). An empty line gives [CLS] [SEP]. Invalid \
            UTF-8 is replaced by U+FFFD with a warning naming the file and line.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Flag(name: .long, help: "Each line is a pair 'A<TAB>B' (split at the first tab). Default: off.")
    var pair = false

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp(
        "Truncate to this many tokens, special tokens included. Default: no truncation (or the tokenizer's model_max_length when only --truncation is given).",
        valueName: "n"))
    var maxLength: Int?

    @Option(name: .long, help: ArgumentHelp(
        "Truncation strategy: longest_first, only_first or only_second. Default: longest_first when --max-length is given.",
        valueName: "strategy"))
    var truncation: String?

    @OptionGroup var input: InputFiles

    func validate() throws {
        if let truncation, TruncationStrategy(rawValue: truncation) == nil {
            throw ValidationError("--truncation must be one of: "
                                  + TruncationStrategy.allCases.map(\.rawValue).joined(separator: ", "))
        }
        if truncation == TruncationStrategy.onlySecond.rawValue, !pair {
            throw ValidationError("--truncation only_second needs --pair (each line 'A<TAB>B')")
        }
        // [CLS] x [SEP] needs 2 special tokens, [CLS] a [SEP] b [SEP] 3.
        if let maxLength, maxLength < (pair ? 3 : 2) {
            throw ValidationError("--max-length must be at least \(pair ? 3 : 2) (the special tokens\(pair ? " of a pair" : "")), got \(maxLength)")
        }
    }

    func run() throws {
        let tokenizer: BertTokenizer
        do {
            tokenizer = try BertTokenizer(directory: modelOptions.url)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        var settings: Truncation?
        if maxLength != nil || truncation != nil {
            settings = Truncation(maxLength: maxLength ?? tokenizer.modelMaxLength,
                                  strategy: truncation.flatMap(TruncationStrategy.init(rawValue:)) ?? .longestFirst)
        }
        let report = Report()
        input.forEachLine(report) { line in
            var a = line.text
            var b: String?
            if pair {
                guard let tab = a.utf8.firstIndex(of: 0x09) else {
                    let message = "--pair needs 'A<TAB>B', found no tab"
                    report.fail("\(line.source):\(line.number): \(message)")
                    JSONLines.write(JSONLines.error(message, line: line))
                    return
                }
                b = String(a[a.utf8.index(after: tab)...])
                a = String(a[..<tab])
            }
            do {
                let encoding = try tokenizer.checkedEncode(a, pair: b, truncation: settings)
                JSONLines.write(Record(encoding))
            } catch {
                // The record carries source and line in their own fields, as every command's does.
                report.fail("\(line.source):\(line.number): \(error)")
                JSONLines.write(JSONLines.error("\(error)", line: line))
            }
        }
        try report.finish()
    }

    /// The output record: `{"attention_mask", "input_ids", "offsets", "token_type_ids", "tokens"}`.
    struct Record: Encodable {
        var inputIds: [Int32]
        var tokenTypeIds: [Int32]
        var attentionMask: [Int32]
        var tokens: [String]
        var offsets: [[Int]]

        init(_ e: Encoding) {
            inputIds = e.ids
            tokenTypeIds = e.typeIds
            attentionMask = e.attentionMask
            tokens = e.tokens
            offsets = e.offsets.map { [$0.start, $0.end] }
        }

        enum CodingKeys: String, CodingKey {
            case tokens, offsets
            case inputIds = "input_ids"
            case tokenTypeIds = "token_type_ids"
            case attentionMask = "attention_mask"
        }
    }
}
