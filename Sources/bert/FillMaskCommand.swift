import ArgumentParser
import BertBLAS
import Foundation

/// `bert fill-mask`: the most likely tokens for the `[MASK]`s of each line.
struct FillMaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fill-mask",
        abstract: "Fill the [MASK] tokens of each line with a masked-LM checkpoint.",
        discussion: """
            Prints, for a line with one mask, a JSON list of {"token","token_str","score","sequence"} \
            (best first); for several masks, one such list per mask. As transformers' fill-mask \
            pipeline. A line without a mask token gets an error record.
            """)

    @OptionGroup var model: ModelOptions

    @OptionGroup var kernel: KernelOptions

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Candidates per mask.", valueName: "n"))
    var topK: Int = 5

    @Option(name: .long, help: ArgumentHelp("""
        Comma-separated candidate tokens; only these are scored (a word that is not a vocabulary \
        token is replaced by its first token, with a warning). Default: the whole vocabulary.
        """, valueName: "w1,w2"))
    var targets: String?

    @OptionGroup var input: InputFiles

    func validate() throws {
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1") }
        if let targets, !targets.split(separator: ",").contains(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("--targets names no token (got \"\(targets)\")")
        }
    }

    func run() throws {
        var targetIds: [Int]?
        try HeadCommand.run(files: input, load: { () throws -> MaskFiller in
            let filler = try MaskFiller(directory: model.url, kernel: kernel.kernel)
            if let targets {
                let words = targets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }
                guard !words.isEmpty else { throw ValidationError("--targets names no token") }
                let resolved = try filler.targetIds(words)
                for warning in resolved.warnings {
                    FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
                }
                targetIds = resolved.ids
            }
            return filler
        }) { filler, line, _ in
            let masks = try filler.fill(line.text, topK: topK, targets: targetIds)
            return masks.count == 1 ? masks[0] : masks
        }
    }
}
