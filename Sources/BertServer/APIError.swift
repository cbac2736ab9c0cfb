import BertBLAS
import Foundation
import HTTPTypes
import Hummingbird

/// An error answered as TEI answers it: `{"error": message, "error_type": kind}` with the status
/// of its kind. `/v1/embeddings` answers OpenAI's shape instead (`{"message", "code", "type"}`).
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// TEI's `ErrorType` (router/src/lib.rs), plus the HTTP-level kinds TEI leaves to axum.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        // TEI's kinds, spelled as TEI serializes them.
        case unhealthy = "Unhealthy"
        case backend = "Backend"
        case overloaded = "Overloaded"
        case validation = "Validation"
        case tokenizer = "Tokenizer"
        case empty = "Empty"
        // Ours: what TEI answers without a JSON body (axum rejections, auth middleware, 404).
        case malformedJSON = "MalformedJSON"
        case payloadTooLarge = "PayloadTooLarge"
        case unauthorized = "Unauthorized"
        case notFound = "NotFound"
        case methodNotAllowed = "MethodNotAllowed"
    }

    public var kind: Kind
    public var message: String
    public var status: HTTPResponse.Status

    public init(_ kind: Kind, _ message: String, status: HTTPResponse.Status? = nil) {
        self.kind = kind
        self.message = message
        self.status = status ?? Self.defaultStatus(kind)
    }

    public var description: String { "\(status.code) \(kind.rawValue): \(message)" }

    /// TEI's status for each kind (`impl From<&ErrorType> for StatusCode`), except `empty`: 422
    /// here (an empty input is a well-formed but invalid body), 400 in TEI.
    static func defaultStatus(_ kind: Kind) -> HTTPResponse.Status {
        switch kind {
        case .unhealthy: .serviceUnavailable
        case .backend: .init(code: 424, reasonPhrase: "Failed Dependency")
        case .overloaded: .tooManyRequests
        case .validation, .tokenizer, .empty: .unprocessableContent
        case .malformedJSON: .badRequest
        case .payloadTooLarge: .contentTooLarge
        case .unauthorized: .unauthorized
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        }
    }

    // MARK: Common errors

    static func batchTooLarge(_ count: Int, limit: Int) -> APIError {
        APIError(.validation, "batch size \(count) > maximum allowed batch size \(limit)", status: .contentTooLarge)
    }

    static func payloadTooLarge(limit: Int) -> APIError {
        APIError(.payloadTooLarge, "request body is larger than the payload limit of \(limit) bytes")
    }

    static func overloaded(limit: Int) -> APIError {
        APIError(.overloaded, "Model is overloaded: \(limit) requests in flight")
    }

    /// Any error thrown while answering, as the error the client sees.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as BertError:
            switch error.kind {
            case .invalidInput: return APIError(.validation, error.message)
            default: return APIError(.backend, error.message)
            }
        case let error as EngineError:
            switch error {
            case .overloaded(let limit): return .overloaded(limit: limit)
            case .shutDown: return APIError(.unhealthy, "the server is shutting down")
            }
        case let error as HTTPError:
            switch error.status {
            case .contentTooLarge: return APIError(.payloadTooLarge, error.body ?? "request body too large")
            case .notFound: return APIError(.notFound, "no such route")
            case .methodNotAllowed: return APIError(.methodNotAllowed, "method not allowed on this route")
            case .unauthorized: return APIError(.unauthorized, error.body ?? "missing or wrong API key")
            default:
                let kind: Kind = error.status.code < 500 ? .validation : .backend
                return APIError(kind, error.body ?? error.status.reasonPhrase, status: error.status)
            }
        case is CancellationError:
            return APIError(.unhealthy, "the request was cancelled: the server is shutting down")
        default:
            return APIError(.backend, "\(error)")
        }
    }
}

/// TEI's error body.
struct ErrorBody: Codable, Sendable {
    var error: String
    var error_type: APIError.Kind
}

/// OpenAI's error body, as TEI's `/v1/embeddings` answers it.
struct OpenAIErrorBody: Codable, Sendable {
    var message: String
    var code: Int
    var type: APIError.Kind
}
