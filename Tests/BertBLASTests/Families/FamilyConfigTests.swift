import Foundation
import Testing
@testable import BertBLAS

/// `config.json` decoded per `model_type` into one encoder description.
@Suite struct FamilyConfigTests {
    static func temp(_ json: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("family-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(json.utf8).write(to: dir.appendingPathComponent("config.json"))
        return dir
    }

    @Test func distilbertKeysDecode() throws {
        let config = try BertConfig.load(FamilyGoldens.model("distilbert-cls"))
        #expect(config.family == .distilbert)
        #expect(config.hiddenSize == 32 && config.numHiddenLayers == 2 && config.numAttentionHeads == 4)
        #expect(config.intermediateSize == 64 && config.hiddenAct == "gelu" && config.layerNormEps == 1e-12)
        #expect(!config.hasTokenTypes && !config.readsTokenTypeIds && config.positionOffset == 0)
        #expect(config.labels == ["1 star", "2 stars", "3 stars", "4 stars", "5 stars"])
        #expect(try BertConfig.load(FamilyGoldens.model("distilbert-sinusoidal-cls")).sinusoidalPositionEmbeddings)
    }

    @Test func robertaAndElectraDescriptions() throws {
        let roberta = try BertConfig.load(FamilyGoldens.model("roberta-cls"))
        #expect(roberta.family == .roberta && roberta.positionOffset == 2 && roberta.maxSequenceLength == 62)
        #expect(roberta.hasTokenTypes && !roberta.readsTokenTypeIds)
        let electra = try BertConfig.load(FamilyGoldens.model("electra-cls"))
        #expect(electra.family == .electra && electra.embeddingSize == 16 && electra.hiddenSize == 32)
        let model = try BertModel(directory: FamilyGoldens.model("roberta-cls"))
        #expect(throws: BertError.self) { try model.makeWorkspace(maxBatch: 1, maxLength: 63) }
        #expect(try model.makeWorkspace(maxBatch: 1, maxLength: 62).maxLength == 62)
    }

    @Test func unsupportedModelTypeListsTheSupportedOnes() throws {
        let dir = try Self.temp(#"{"model_type": "deberta-v2", "vocab_size": 10, "hidden_size": 8}"#)
        let error = #expect(throws: BertError.self) { try BertConfig.load(dir) }
        #expect(error?.kind == .config)
        #expect(error?.message == "\(dir.appendingPathComponent("config.json").path): model_type \"deberta-v2\" is not supported (supported: bert, distilbert, electra, roberta, xlm-roberta)",
                "\(error?.message ?? "")")
    }

    @Test func distilbertMissingKeyIsNamedAsDistilbertSpellsIt() throws {
        let dir = try Self.temp(#"{"model_type": "distilbert", "vocab_size": 10, "n_layers": 2, "n_heads": 2, "hidden_dim": 8}"#)
        let error = #expect(throws: BertError.self) { try BertConfig.load(dir) }
        #expect(error?.message.contains("missing required key \"dim\"") == true, "\(error?.message ?? "")")
        let bad = try Self.temp(#"{"model_type": "distilbert", "vocab_size": 10, "dim": 10, "n_layers": 2, "n_heads": 4, "hidden_dim": 8}"#)
        let sizes = #expect(throws: BertError.self) { try BertConfig.load(bad) }
        #expect(sizes?.message.contains("dim 10 is not a multiple of n_heads 4") == true, "\(sizes?.message ?? "")")
    }

    @Test func electraEmbeddingSizeDefaultsAsTransformersDoes() throws {
        let dir = try Self.temp(#"{"model_type": "electra", "vocab_size": 10, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4, "intermediate_size": 8}"#)
        #expect(try BertConfig.load(dir).embeddingSize == 128)
    }

    /// A checkpoint of another family: the error lists every spelling the family tried.
    @Test func missingTensorListsTheFamilySpellings() throws {
        let dir = try Self.temp(String(decoding: try Data(contentsOf: FamilyGoldens.model("distilbert-cls").appendingPathComponent("config.json")), as: UTF8.self))
        try FileManager.default.copyItem(at: FamilyGoldens.model("electra-cls").appendingPathComponent("model.safetensors"),
                                         to: dir.appendingPathComponent("model.safetensors"))
        let error = #expect(throws: BertError.self) { try BertModel(directory: dir) }
        #expect(error?.kind == .missingTensor)
        #expect(error?.message.contains("tried: distilbert.embeddings.word_embeddings.weight, embeddings.word_embeddings.weight") == true,
                "\(error?.message ?? "")")
    }

    @Test func distilbertLayerNamesAreItsOwn() {
        let layer = TensorNames.distilbert.layer(1)
        #expect(layer.query.weight.candidates == ["distilbert.transformer.layer.1.attention.q_lin.weight",
                                                  "transformer.layer.1.attention.q_lin.weight"])
        #expect(layer.outputLayerNorm.bias.candidates.contains("distilbert.transformer.layer.1.output_layer_norm.beta"))
        #expect(TensorNames.distilbert.embeddings.tokenType == nil && TensorNames.distilbert.pooler == nil)
        #expect(TensorNames.electra.embeddings.projection?.weight.candidates.first == "electra.embeddings_project.weight")
    }
}
