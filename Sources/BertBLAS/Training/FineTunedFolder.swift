import Foundation

/// Writes a fine-tuned sequence classifier as a HuggingFace model folder that
/// `AutoModelForSequenceClassification` and every BertBLAS command load (and token classifiers
/// and question answerers as their `<Family>For…` folders, below):
/// ```
/// config.json        the source config with architectures [<Family>ForSequenceClassification],
///                    id2label / label2id (regression: the one target's name) and
///                    problem_type (single_label_classification, multi_label_classification,
///                    regression)
/// model.safetensors  every parameter, F32, under <Family>ForSequenceClassification's names
///                    (`TensorNames`: `bert.…`, `distilbert.…` + `pre_classifier`, `roberta.…` /
///                    `electra.…` + `classifier.dense` / `classifier.out_proj`; no pooler for
///                    the families whose classifier does not read it)
/// tokenizer files    copied from the source folder
/// ```
public enum FineTunedFolder {
    /// The tokenizer files copied when present (WordPiece's vocab.txt, byte-level BPE's vocab.json
    /// and merges.txt, SentencePiece models, besides tokenizer.json).
    static let tokenizerFiles = ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
                                 "vocab.json", "merges.txt", "sentencepiece.bpe.model", "spm.model"]

    /// - Parameters:
    ///   - directory: the folder to write (created if needed).
    ///   - model: the trained model.
    ///   - labels: label names in classifier order (regression: one name).
    ///   - problemType: written as `problem_type`; it decides the loss transformers trains with
    ///     and the score function of the text-classification pipeline and `SequenceClassifier`.
    ///   - source: the folder the model was loaded from (its config and tokenizer are reused).
    /// - Throws: `BertError.shape` when the labels do not match the classifier, `.io` naming the
    ///   file that cannot be read or written.
    public static func write(_ directory: URL, model: TrainableSequenceClassifier, labels: [String],
                             problemType: ProblemType = .singleLabelClassification, source: URL) throws {
        try write(directory, parameters: model.parameters, labelCount: model.labelCount, labels: labels,
                  architecture: model.config.className(.sequenceClassification), problemType: problemType, source: source)
    }

    /// Writes a fine-tuned token classifier as a `<Family>ForTokenClassification` folder (config
    /// without `problem_type`), which `bert ner` and `AutoModelForTokenClassification` load.
    /// - Throws: as `write(_:model:labels:problemType:source:)`.
    public static func write(_ directory: URL, tokenClassifier model: TrainableTokenClassifier, labels: [String], source: URL) throws {
        try write(directory, parameters: model.parameters, labelCount: model.labelCount, labels: labels,
                  architecture: model.config.className(.tokenClassification), problemType: nil, source: source)
    }

    /// Writes a fine-tuned extractive question answerer as a `<Family>ForQuestionAnswering`
    /// folder, which `bert qa` and `AutoModelForQuestionAnswering` load. The config keeps no
    /// labels: transformers sizes `qa_outputs` by `num_labels` (2, start and end, by default),
    /// so a source classifier's `id2label` would give it the wrong shape.
    /// - Throws: `BertError.io` naming the file that cannot be read or written.
    public static func write(_ directory: URL, questionAnswerer model: TrainableQuestionAnswerer, source: URL) throws {
        try writeFolder(directory, parameters: model.parameters, source: source, writer: "BertBLAS finetune",
                        what: "fine-tuned model") { config in
            config["architectures"] = [model.config.className(.questionAnswering)]
            for key in ["id2label", "label2id", "num_labels", "_num_labels", "problem_type"] { config[key] = nil }
        }
    }

    static func write(_ directory: URL, parameters p: ParameterSet, labelCount: Int, labels: [String], architecture: String,
                      problemType: ProblemType?, source: URL) throws {
        guard labels.count == labelCount else {
            throw BertError(.shape, "\(labels.count) label names for a classifier of \(labelCount) labels")
        }
        try writeFolder(directory, parameters: p, source: source, writer: "BertBLAS finetune", what: "fine-tuned model") { config in
            config["architectures"] = [architecture]
            config["id2label"] = Dictionary(uniqueKeysWithValues: labels.enumerated().map { (String($0), $1) })
            config["label2id"] = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
            config["problem_type"] = problemType?.rawValue
        }
    }

    /// Writes a trained model as an HF folder: the source's config.json as `editConfig` changes
    /// it, every parameter of `p` in model.safetensors (F32), and the source's tokenizer files.
    /// - Throws: `BertError.io` naming the file that cannot be read or written (`what` names the model).
    static func writeFolder(_ directory: URL, parameters p: ParameterSet, source: URL, writer: String, what: String,
                            editConfig: (inout [String: Any]) -> Void) throws {
        let configURL = source.appendingPathComponent("config.json")
        guard let data = try? Data(contentsOf: configURL),
              var config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw BertError(.io, "\(configURL.path): cannot read the source config")
        }
        editConfig(&config)
        let tensors = p.entries.map { ($0.name, $0.shape, Array(p.values(of: $0))) }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try json.write(to: directory.appendingPathComponent("config.json"), options: .atomic)
            try SafetensorsF32.encode(tensors, metadata: ["format": "pt", "writer": writer])
                .write(to: directory.appendingPathComponent("model.safetensors"), options: .atomic)
            for file in tokenizerFiles {
                // The file a link points to (a HF cache snapshot links each file to a blob by a
                // relative path, which would dangle in the new folder).
                let from = source.appendingPathComponent(file).resolvingSymlinksInPath(), to = directory.appendingPathComponent(file)
                guard FileManager.default.fileExists(atPath: from.path) else { continue }
                if from.standardizedFileURL == to.standardizedFileURL { continue }
                try? FileManager.default.removeItem(at: to)
                try FileManager.default.copyItem(at: from, to: to)
            }
        } catch {
            throw BertError(.io, "\(directory.path): cannot write the \(what): \(error.localizedDescription)")
        }
    }
}
