import Foundation

/// Writes a pre-trained masked language model as a HuggingFace `<Family>ForMaskedLM` folder
/// (`BertForMaskedLM`, `DistilBertForMaskedLM`, `RobertaForMaskedLM`, `XLMRobertaForMaskedLM`,
/// `ElectraForMaskedLM`) that `bert fill-mask`, `bert mlm-score` and transformers'
/// `AutoModelForMaskedLM` load, or, for a BERT model trained with its next-sentence head, a
/// `BertForPreTraining` folder (pooler and `cls.seq_relationship` too) that `bert nsp` reads as
/// well:
/// ```
/// config.json        the source config with architectures [<Family>ForMaskedLM] (BertForPreTraining)
/// model.safetensors  every parameter, F32, under the class's names (`TensorNames`); a tied
///                    decoder is not stored (it is the word embeddings, as save_pretrained does)
/// tokenizer files    copied from the source folder
/// ```
public enum MaskedLMFolder {
    /// - Parameters:
    ///   - directory: the folder to write (created if needed).
    ///   - model: the trained model.
    ///   - source: the folder the model was loaded from (its config and tokenizer are reused).
    /// - Throws: `BertError.io` naming the file that cannot be read or written.
    public static func write(_ directory: URL, model: TrainableMaskedLM, source: URL) throws {
        try FineTunedFolder.writeFolder(directory, parameters: model.parameters, source: source, writer: "BertBLAS pretrain",
                                        what: "pre-trained model") { config in
            config["architectures"] = [model.hasNextSentenceHead ? "BertForPreTraining" : model.config.className(.maskedLM)]
        }
    }
}
