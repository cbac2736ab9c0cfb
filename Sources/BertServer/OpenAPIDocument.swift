import BertBLAS
import Foundation

/// The OpenAPI 3 document of the routes a server answers (`GET /openapi.json`), with TEI's
/// schemas (docs/openapi.json of text-embeddings-inference) and the error statuses each route
/// can answer.
enum OpenAPIDocument {
    typealias Object = [String: Any]

    /// What the server accepts, so that the schemas declare it: a generated body that fits the
    /// document also fits the server (schemathesis then explores past the validation).
    struct Limits {
        /// Most inputs per request (`--max-client-batch-size`).
        var maxClientBatchSize = 32
        /// Token ids must be below it (the model's `vocab_size`); nil leaves them unbounded.
        var vocabularySize: Int? = nil
    }

    /// The document for a server answering `routes` (the model routes; the others are always there).
    static func json(routes: [String], limits: Limits = Limits()) -> Data {
        let object = document(routes: routes, limits: limits)
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
    }

    static func document(routes: [String], limits: Limits = Limits()) -> Object {
        var paths: Object = [
            "/health": get("Health check: 200 while serving.", "health", ok: ["description": "Serving"], public: true),
            "/info": get("The model and the server's limits.", "info", ok: json("Model info", ref("Info"))),
            "/metrics": get("Prometheus metrics.", "metrics",
                            ok: ["description": "Prometheus text", "content": ["text/plain": ["schema": ["type": "string"]]]],
                            public: true),
            "/openapi.json": get("This document.", "openapi",
                                 ok: json("OpenAPI 3 document", ["type": "object"]), public: true),
        ]
        for route in routes {
            if let item = post(route) { paths[route] = item }
        }
        return [
            "openapi": "3.0.3",
            "info": [
                "title": "BertBLAS server (text-embeddings-inference compatible)",
                "version": BertHTTPServer.version,
                "license": ["name": "Apache-2.0"],
            ],
            "paths": paths,
            "components": [
                "schemas": schemas(limits),
                "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]],
            ],
        ]
    }

    // MARK: Routes

    static func post(_ route: String) -> Object? {
        switch route {
        case "/tokenize":
            return post("Tokenize inputs.", "tokenize", body: "TokenizeRequest",
                        ok: json("Tokenized ids", ref("TokenizeResponse")), batch: true)
        case "/decode":
            return post("Decode input ids.", "decode", body: "DecodeRequest",
                        ok: json("Decoded ids", ref("DecodeResponse")), batch: true)
        case "/embed":
            return post("Get Embeddings.", "embed", body: "EmbedRequest", ok: json("Embeddings", ref("EmbedResponse")),
                        batch: true, model: true)
        case "/embed_all":
            return post("Get all Embeddings without Pooling.", "embed_all", body: "EmbedAllRequest",
                        ok: json("Embeddings", ref("EmbedAllResponse")), batch: true, model: true)
        case "/similarity":
            return post("Get Sentence Similarity.", "similarity", body: "SimilarityRequest",
                        ok: json("Sentence Similarity", ref("SimilarityResponse")), batch: true, model: true)
        case "/v1/embeddings", "/embeddings":
            return post("OpenAI compatible route.", route == "/embeddings" ? "openai_embed_alias" : "openai_embed",
                        body: "OpenAICompatRequest", ok: json("Embeddings", ref("OpenAICompatResponse")),
                        batch: true, model: true, openAI: true)
        case "/embed_sparse":
            return post("Get Sparse Embeddings (SPLADE: max over tokens of log(1 + ReLU(MLM logits))).", "embed_sparse",
                        body: "EmbedSparseRequest", ok: json("Embeddings", ref("EmbedSparseResponse")), batch: true,
                        model: true)
        case "/predict":
            return post("Get Predictions: every label's score, best first.", "predict", body: "PredictRequest",
                        ok: json("Predictions", ref("PredictResponse")), batch: true, model: true)
        case "/rerank":
            return post("Get Ranks: a one-label cross-encoder's score of (query, text), best first.", "rerank",
                        body: "RerankRequest", ok: json("Ranks", ref("RerankResponse")), batch: true, model: true)
        case "/ner":
            return post("Named entities (token classification), as transformers' pipeline.", "ner", body: "NERRequest",
                        ok: json("Entities", ref("NERResponse")), batch: true, model: true)
        case "/qa":
            return post("Extractive question answering, as transformers' pipeline.", "qa", body: "QARequest",
                        ok: json("Answers", ref("QAResponse")), batch: true, model: true)
        case "/fill-mask":
            return post("Fill the mask tokens, as transformers' pipeline.", "fill_mask", body: "FillMaskRequest",
                        ok: json("Candidates", ref("FillMaskResponse")), batch: true, model: true)
        default:
            return nil
        }
    }

    static func get(_ summary: String, _ operation: String, ok: Object, public isPublic: Bool = false) -> Object {
        var responses: Object = ["200": ok]
        if !isPublic { responses["401"] = error("Missing or wrong API key") }
        return ["get": ["summary": summary, "operationId": operation, "responses": responses]]
    }

    /// A POST route with its JSON body and every error status it can answer.
    static func post(_ summary: String, _ operation: String, body: String, ok: Object, batch: Bool,
                     model: Bool = false, openAI: Bool = false) -> Object {
        var responses: Object = [
            "200": ok,
            "400": error("Malformed JSON", openAI: openAI),
            "401": error("Missing or wrong API key", openAI: openAI),
            "413": error("Payload or batch too large", openAI: openAI),
            "422": error("Invalid input", openAI: openAI),
            "429": error("Model is overloaded", openAI: openAI),
        ]
        if model {
            responses["424"] = error("Inference failed", openAI: openAI)
            responses["503"] = error("Shutting down", openAI: openAI)
        }
        _ = batch
        return ["post": [
            "summary": summary,
            "operationId": operation,
            "requestBody": ["required": true, "content": ["application/json": ["schema": ref(body)]]],
            "responses": responses,
        ]]
    }

    static func json(_ description: String, _ schema: Object) -> Object {
        ["description": description, "content": ["application/json": ["schema": schema]]]
    }

    static func error(_ description: String, openAI: Bool = false) -> Object {
        json(description, ref(openAI ? "OpenAICompatErrorResponse" : "ErrorResponse"))
    }

    static func ref(_ name: String) -> Object { ["$ref": "#/components/schemas/\(name)"] }

    // MARK: Schemas (TEI's names and fields)

    static var string: Object { ["type": "string"] }
    static var bool: Object { ["type": "boolean"] }
    static var number: Object { ["type": "number", "format": "float"] }
    static var tokenID: Object { ["type": "integer", "format": "int32", "minimum": 0] }
    static func array(_ items: Object, min: Int? = nil, max: Int? = nil) -> Object {
        var object: Object = ["type": "array", "items": items]
        if let min { object["minItems"] = min }
        if let max { object["maxItems"] = max }
        return object
    }
    static func object(_ properties: Object, required: [String] = []) -> Object {
        var object: Object = ["type": "object", "properties": properties]
        if !required.isEmpty { object["required"] = required }
        return object
    }
    static func nullable(_ schema: Object) -> Object {
        var schema = schema
        schema["nullable"] = true
        return schema
    }

    static func schemas(_ limits: Limits) -> Object {
        var inputID = tokenID
        if let size = limits.vocabularySize { inputID["maximum"] = size - 1 }
        let batch = limits.maxClientBatchSize
        let inputType: Object = ["oneOf": [string, array(inputID, min: 1)]]
        let input: Object = ["oneOf": [inputType, array(inputType, min: 1, max: batch)]]
        let truncation: Object = ["type": "string", "enum": ["Left", "Right", "left", "right"], "default": "Right"]
        let errorKinds = APIError.Kind.allCases.map(\.rawValue)
        let simpleToken = object([
            "id": tokenID, "text": string, "special": bool,
            "start": nullable(["type": "integer", "minimum": 0]), "stop": nullable(["type": "integer", "minimum": 0]),
        ], required: ["id", "text", "special"])
        let modelType: Object = ["oneOf": [
            object(["embedding": object(["pooling": string], required: ["pooling"])], required: ["embedding"]),
            object(["classifier": ref("ClassifierModel")], required: ["classifier"]),
            object(["reranker": ref("ClassifierModel")], required: ["reranker"]),
        ]]
        let count: Object = ["type": "integer", "minimum": 0]
        return [
            "ErrorType": ["type": "string", "enum": errorKinds],
            "ErrorResponse": object(["error": string, "error_type": ref("ErrorType")], required: ["error", "error_type"]),
            "OpenAICompatErrorResponse": object(["message": string, "code": ["type": "integer"], "type": ref("ErrorType")],
                                                required: ["message", "code", "type"]),
            "Input": input,
            "InputType": inputType,
            "TruncationDirection": truncation,
            "TokenizeRequest": object([
                "inputs": ["oneOf": [string, array(string, min: 1, max: batch)]],
                "add_special_tokens": ["type": "boolean", "default": true],
                "prompt_name": nullable(string),
            ], required: ["inputs"]),
            "SimpleToken": simpleToken,
            "TokenizeResponse": array(array(ref("SimpleToken"))),
            "DecodeRequest": object([
                "ids": ["oneOf": [array(tokenID), array(array(tokenID))]],
                "skip_special_tokens": ["type": "boolean", "default": true],
            ], required: ["ids"]),
            "DecodeResponse": array(string),
            "EmbedRequest": object([
                "inputs": ref("Input"), "truncate": nullable(["type": "boolean", "default": false]),
                "truncation_direction": ref("TruncationDirection"), "prompt_name": nullable(string),
                "normalize": ["type": "boolean", "default": true],
                "dimensions": nullable(["type": "integer", "minimum": 1]),
            ], required: ["inputs"]),
            "EmbedResponse": array(array(number)),
            "EmbedAllRequest": object([
                "inputs": ref("Input"), "truncate": nullable(["type": "boolean", "default": false]),
                "truncation_direction": ref("TruncationDirection"), "prompt_name": nullable(string),
            ], required: ["inputs"]),
            "EmbedAllResponse": array(array(array(number))),
            "SimilarityRequest": object([
                "inputs": object(["source_sentence": string, "sentences": array(string, min: 1, max: batch)],
                                 required: ["source_sentence", "sentences"]),
                "parameters": nullable(object([
                    "truncate": nullable(bool), "truncation_direction": ref("TruncationDirection"),
                    "prompt_name": nullable(string),
                ])),
            ], required: ["inputs"]),
            "SimilarityResponse": array(number),
            "OpenAICompatRequest": object([
                "input": ref("Input"), "model": nullable(string), "user": nullable(string),
                "encoding_format": ["type": "string", "enum": ["float", "base64"], "default": "float"],
                "dimensions": nullable(["type": "integer", "minimum": 1]),
            ], required: ["input"]),
            "OpenAICompatEmbedding": object([
                "object": ["type": "string", "enum": ["embedding"]],
                "embedding": ["oneOf": [array(number), string]],
                "index": count,
            ], required: ["object", "embedding", "index"]),
            "OpenAICompatUsage": object(["prompt_tokens": count, "total_tokens": count],
                                        required: ["prompt_tokens", "total_tokens"]),
            "OpenAICompatResponse": object([
                "object": ["type": "string", "enum": ["list"]],
                "data": array(ref("OpenAICompatEmbedding")),
                "model": string,
                "usage": ref("OpenAICompatUsage"),
            ], required: ["object", "data", "model", "usage"]),
            "EmbedSparseRequest": object([
                "inputs": ref("Input"), "truncate": nullable(["type": "boolean", "default": false]),
                "truncation_direction": ref("TruncationDirection"), "prompt_name": nullable(string),
            ], required: ["inputs"]),
            "SparseValue": object(["index": count, "value": number], required: ["index", "value"]),
            "EmbedSparseResponse": array(array(ref("SparseValue"))),
            "PredictInput": ["anyOf": [string, array(string, min: 1, max: 2), array(array(string, min: 1, max: 2), min: 1, max: batch)]],
            "PredictRequest": object([
                "inputs": ref("PredictInput"), "truncate": nullable(["type": "boolean", "default": false]),
                "truncation_direction": ref("TruncationDirection"), "raw_scores": ["type": "boolean", "default": false],
            ], required: ["inputs"]),
            "Prediction": object(["label": string, "score": number], required: ["label", "score"]),
            "PredictResponse": ["anyOf": [array(ref("Prediction")), array(array(ref("Prediction")))]],
            "RerankRequest": object([
                "query": string, "texts": array(string, min: 1, max: batch), "truncate": nullable(["type": "boolean", "default": false]),
                "truncation_direction": ref("TruncationDirection"), "raw_scores": ["type": "boolean", "default": false],
                "return_text": ["type": "boolean", "default": false],
            ], required: ["query", "texts"]),
            "Rank": object(["index": count, "score": number, "text": nullable(string)], required: ["index", "score"]),
            "RerankResponse": array(ref("Rank")),
            "NERRequest": object([
                "inputs": ["oneOf": [string, array(string, min: 1, max: batch)]],
                "aggregation_strategy": ["type": "string", "enum": AggregationStrategy.allCases.map(\.rawValue),
                                         "default": "none"],
                "ignore_labels": array(string),
            ], required: ["inputs"]),
            "Entity": object([
                "entity": string, "entity_group": string, "score": number, "index": count,
                "word": string, "start": count, "end": count,
            ], required: ["score", "word", "start", "end"]),
            "NERResponse": ["anyOf": [array(ref("Entity")), array(array(ref("Entity")))]],
            "QARequest": object([
                "question": string, "context": ["oneOf": [string, array(string, min: 1, max: batch)]],
                "top_k": ["type": "integer", "minimum": 1, "default": 1],
                "max_answer_len": ["type": "integer", "minimum": 1, "default": 15],
                "max_seq_len": nullable(["type": "integer", "minimum": 1]),
                "doc_stride": nullable(["type": "integer", "minimum": 0]),
                "handle_impossible_answer": ["type": "boolean", "default": false],
            ], required: ["question", "context"]),
            "Answer": object(["answer": string, "score": ["type": "number", "format": "double"], "start": count, "end": count],
                             required: ["answer", "score", "start", "end"]),
            "QAResponse": ["anyOf": [array(ref("Answer")), array(array(ref("Answer")))]],
            "FillMaskRequest": object([
                "inputs": ["oneOf": [string, array(string, min: 1, max: batch)]],
                "top_k": ["type": "integer", "minimum": 1, "maximum": BertService.maxFillMaskTopK, "default": 5],
                "targets": array(string, min: 1),
            ], required: ["inputs"]),
            "MaskFill": object(["score": number, "token": count, "token_str": string, "sequence": string],
                               required: ["score", "token", "token_str", "sequence"]),
            "MaskFills": ["anyOf": [array(ref("MaskFill")), array(array(ref("MaskFill")))]],
            "FillMaskResponse": ["anyOf": [ref("MaskFills"), array(ref("MaskFills"))]],
            "ClassifierModel": object([
                "id2label": ["type": "object", "additionalProperties": string],
                "label2id": ["type": "object", "additionalProperties": count],
            ], required: ["id2label", "label2id"]),
            "ModelType": modelType,
            "Info": object([
                "model_id": string, "model_sha": nullable(string), "model_dtype": string,
                "served_model_name": string, "model_type": ref("ModelType"),
                "max_concurrent_requests": count, "max_input_length": count, "max_batch_tokens": count,
                "max_batch_requests": nullable(count), "max_client_batch_size": count, "auto_truncate": bool,
                "tokenization_workers": count, "version": string, "sha": nullable(string),
                "docker_label": nullable(string), "routes": array(string), "blas_core": string, "blas_threads": count,
            ], required: ["model_id", "model_dtype", "served_model_name", "model_type", "max_concurrent_requests",
                          "max_input_length", "max_batch_tokens", "max_client_batch_size", "auto_truncate",
                          "tokenization_workers", "version"]),
        ]
    }
}
