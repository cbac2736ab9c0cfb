import Foundation

/// Writes a pre-trained masked language model as a HuggingFace `BertForMaskedLM` folder that
/// `bert fill-mask`, `bert mlm-score` and transformers' `AutoModelForMaskedLM` load:
/// ```
/// config.json        the source config with architectures [BertForMaskedLM]
/// model.safetensors  every parameter, F32, under BertForMaskedLM's names; a tied decoder is
///                    not stored (it is the word embeddings, as save_pretrained does)
/// tokenizer files    copied from the source folder
/// ```
public enum MaskedLMFolder {
    /// - Parameters:
    ///   - directory: the folder to write (created if needed).
    ///   - model: the trained model.
    ///   - source: the folder the model was loaded from (its config and tokenizer are reused).
    /// - Throws: `BertError.io` naming the file that cannot be read or written.
    public static func write(_ directory: URL, model: TrainableMaskedLM, source: URL) throws {
        let configURL = source.appendingPathComponent("config.json")
        guard let data = try? Data(contentsOf: configURL),
              var config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw BertError(.io, "\(configURL.path): cannot read the source config")
        }
        config["architectures"] = ["BertForMaskedLM"]
        let p = model.parameters
        let tensors = p.entries.map { ($0.name, $0.shape, Array(p.values(of: $0))) }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try json.write(to: directory.appendingPathComponent("config.json"), options: .atomic)
            try SafetensorsF32.encode(tensors, metadata: ["format": "pt", "writer": "BertBLAS pretrain"])
                .write(to: directory.appendingPathComponent("model.safetensors"), options: .atomic)
            for file in FineTunedFolder.tokenizerFiles {
                let from = source.appendingPathComponent(file), to = directory.appendingPathComponent(file)
                guard FileManager.default.fileExists(atPath: from.path) else { continue }
                if from.standardizedFileURL == to.standardizedFileURL { continue }
                try? FileManager.default.removeItem(at: to)
                try FileManager.default.copyItem(at: from, to: to)
            }
        } catch {
            throw BertError(.io, "\(directory.path): cannot write the pre-trained model: \(error.localizedDescription)")
        }
    }
}
