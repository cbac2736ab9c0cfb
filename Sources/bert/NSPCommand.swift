import ArgumentParser
import BertBLAS
import Foundation

/// `bert nsp`: next-sentence probabilities of `A<TAB>B` lines.
struct NSPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nsp",
        abstract: "Score whether sentence B follows sentence A, for each 'A<TAB>B' line.",
        discussion: """
            Needs a BertForNextSentencePrediction or BertForPreTraining checkpoint. Prints one \
            {"is_next": p, "not_next": p} per line (softmax of cls.seq_relationship; IsNext is \
            index 0). A line without a tab gets an error record.
            """)

    @OptionGroup var model: ModelOptions

    @OptionGroup var kernel: KernelOptions
    @OptionGroup var input: InputFiles

    func run() throws {
        try HeadCommand.run(files: input, load: { try NextSentencePredictor(directory: model.url, kernel: kernel.kernel) }) { nsp, line, _ in
            guard let tab = line.text.firstIndex(of: "\t") else {
                throw BertError(.invalidInput, "expected 'A<TAB>B', found no tab")
            }
            let a = String(line.text[..<tab])
            let b = String(line.text[line.text.index(after: tab)...])
            return try nsp.predict(a, b)
        }
    }
}
