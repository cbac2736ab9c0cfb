import ArgumentParser
import BertBLAS

@main
struct Bert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bert",
        abstract: "BERT inference on OpenBLAS: tokenize, embed, classify and more.",
        discussion: """
            Every command takes a HuggingFace model folder with --model (config.json, \
            model.safetensors, tokenizer.json or vocab.txt). Inputs are read one item per line \
            from FILE arguments, or from standard input when none (or '-') is given; outputs are \
            one JSON value per input line on standard output, keys in a fixed order. (train-head \
            and eval read labeled --data; classify also takes folders and whole files.) Errors for one \
            input are reported in its output record and on stderr; the other inputs are still \
            processed, and the exit status is non-zero at the end. Bad options exit with status 64 \
            before any input is read.
            """,
        subcommands: [
            // Subcommands, in data-path order. Keep one per line.
            Tokenize.self,
            EmbedCommand.self,
            NERCommand.self,
            QACommand.self,
            FillMaskCommand.self,
            NSPCommand.self,
            Mask.self,
            PretrainData.self,
            MLMScore.self,
            TrainHeadCommand.self,
            FinetuneCommand.self,
            PretrainCommand.self,
            EvalCommand.self,
            ClassifyCommand.self,
            ServeCommand.self,
        ]
    )

    /// Switches OpenBLAS away from a generic fallback core (re-exec) before anything else runs.
    static func main() {
        BLASRuntime.selectFastCore()
        main(nil)
    }
}
