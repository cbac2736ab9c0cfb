import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Reading request bodies and writing JSON responses, with the server's limits.
enum JSONBody {
    /// TEI's snake_case on the wire, camelCase in Swift.
    static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }

    /// Collects the body, refusing more than `limit` bytes before reading them when the client
    /// declares its length, and while reading otherwise.
    ///
    /// - Throws: `APIError` 413 `PayloadTooLarge`.
    static func collect(_ request: Request, limit: Int) async throws -> ByteBuffer {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw APIError.payloadTooLarge(limit: limit)
        }
        do {
            return try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError.payloadTooLarge(limit: limit)
        } catch is NIOTooManyBytesError {
            throw APIError.payloadTooLarge(limit: limit)
        }
    }

    /// Decodes a body: 400 `MalformedJSON` when it is not JSON, 422 `Validation` when it is JSON
    /// of the wrong shape (a missing field, a wrong type).
    static func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        let data = Data(buffer.readableBytesView)
        if let offset = trailingComma(in: buffer.readableBytesView) {
            throw APIError(.malformedJSON, "the body is not valid JSON: a trailing comma at byte \(offset)")
        }
        do {
            return try makeDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw describe(error)
        }
    }

    /// The offset of a comma followed (after whitespace) by `}` or `]` outside strings: JSON
    /// (RFC 8259) has no trailing commas, but Foundation's decoder accepts them. One pass, no
    /// allocation.
    static func trailingComma<Bytes: Collection>(in bytes: Bytes) -> Int? where Bytes.Element == UInt8 {
        var inString = false, escaped = false
        var pendingComma: Int?
        for (offset, byte) in bytes.enumerated() {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                continue
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if let pendingComma { return pendingComma }
            case UInt8(ascii: ","):
                pendingComma = offset
                continue
            case UInt8(ascii: "\""):
                inString = true
            default:
                break
            }
            pendingComma = nil
        }
        return nil
    }

    static func describe(_ error: DecodingError) -> APIError {
        func path(_ codingPath: [any CodingKey]) -> String {
            let parts = codingPath.map { key in key.intValue.map { "[\($0)]" } ?? snakeCase(key.stringValue) }
            return parts.isEmpty ? "body" : parts.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            let detail = (context.underlyingError.map { "\($0)" } ?? context.debugDescription)
            return APIError(.malformedJSON, "the body is not valid JSON: \(detail)")
        case .dataCorrupted(let context):
            return APIError(.validation, "\(path(context.codingPath)): \(context.debugDescription)")
        case .keyNotFound(let key, let context):
            return APIError(.validation, "missing field `\(snakeCase(key.stringValue))` in \(path(context.codingPath))")
        case .valueNotFound(_, let context):
            return APIError(.validation, "\(path(context.codingPath)): value must not be null")
        case .typeMismatch(_, let context):
            return APIError(.validation, "\(path(context.codingPath)): \(context.debugDescription)")
        @unknown default:
            return APIError(.validation, "invalid body: \(error)")
        }
    }

    /// `someKey` → `some_key`, to name fields as the client sent them.
    static func snakeCase(_ name: String) -> String {
        var out = ""
        for character in name {
            if character.isUppercase {
                out += "_" + character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// A JSON response.
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try makeEncoder().encode(value)
        return Response(status: status,
                        headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The error body of `error` (TEI's, or OpenAI's for `/v1/embeddings`).
    static func errorResponse(_ error: APIError, openAI: Bool = false) -> Response {
        let data: Data?
        if openAI {
            data = try? makeEncoder().encode(OpenAIErrorBody(message: error.message, code: error.status.code, type: error.kind))
        } else {
            data = try? makeEncoder().encode(ErrorBody(error: error.message, error_type: error.kind))
        }
        return Response(status: error.status,
                        headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data ?? Data("{}".utf8))))
    }
}
