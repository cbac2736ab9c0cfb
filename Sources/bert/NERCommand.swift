import ArgumentParser
import BertBLAS
import Foundation

/// `bert ner`: named entities (or any token tags) of each input line.
struct NERCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ner",
        abstract: "Tag tokens with a BertForTokenClassification checkpoint and print the entities of each line.",
        discussion: """
            Prints one JSON list per input line, as transformers' token-classification pipeline: \
            with --aggregation none, one {"entity","score","index","word","start","end"} per \
            token; otherwise {"entity_group","score","word","start","end"} per entity. start and \
            end are character (code point) offsets into the line. A blank line gives [].
            """)

    @OptionGroup var model: ModelOptions

    @OptionGroup var kernel: KernelOptions

    @Option(name: .long, help: ArgumentHelp("""
        How tokens merge into entities: none (one entry per token), simple (adjacent tokens of \
        the same type; B- starts a new entity), first, average or max (each word first takes one \
        label from its first sub-token, the mean of its scores, or its most confident sub-token).
        """, valueName: "none|simple|first|average|max"))
    var aggregation: String = "none"

    @Option(name: .long, help: ArgumentHelp("Comma-separated labels (or entity types) to leave out.",
                                            valueName: "labels"))
    var ignoreLabels: String = "O"

    @OptionGroup var input: InputFiles

    func validate() throws {
        guard AggregationStrategy(rawValue: aggregation) != nil else {
            throw ValidationError("--aggregation must be one of none, simple, first, average, max (got \"\(aggregation)\")")
        }
    }

    func run() throws {
        let strategy = AggregationStrategy(rawValue: aggregation) ?? .none
        let ignore = Set(ignoreLabels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        try HeadCommand.run(files: input, load: { try TokenClassifier(directory: model.url, kernel: kernel.kernel) }) { tagger, line, _ in
            // A blank line has no entities: [] as transformers' pipeline gives, not an error.
            guard line.text.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
                return [Entity]()
            }
            return try tagger.entities(in: line.text, aggregation: strategy, ignoreLabels: ignore)
        }
    }
}
