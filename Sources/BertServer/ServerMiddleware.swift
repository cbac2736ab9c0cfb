import Foundation
import HTTPTypes
import Hummingbird

/// Runs around every route: the API key check, errors turned into TEI's JSON error bodies (so
/// nothing a handler throws reaches the client as an empty 500), and the request metrics.
struct ServerMiddleware<Context: RequestContext>: RouterMiddleware {
    let apiKey: String?
    let metrics: ServerMetrics
    /// Routes answered without the API key (TEI's public routes, plus the OpenAPI document).
    static var publicPaths: Set<String> { ["/health", "/ping", "/metrics", "/openapi.json", "/api-doc/openapi.json"] }

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let path = request.uri.path
        let openAI = path == "/v1/embeddings" || path == "/embeddings"
        let response: Response
        if let apiKey, !Self.publicPaths.contains(path),
           request.headers[.authorization] != "Bearer \(apiKey)" {
            response = JSONBody.errorResponse(
                APIError(.unauthorized, "missing or wrong API key: send the header 'Authorization: Bearer <key>'"),
                openAI: openAI)
        } else {
            do {
                response = try await next(request, context)
            } catch {
                let apiError = APIError.from(error)
                if apiError.status.code >= 500 {
                    context.logger.error("\(request.method) \(path): \(apiError)")
                }
                response = JSONBody.errorResponse(apiError, openAI: openAI)
            }
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        metrics.request(route: context.endpointPath ?? "unmatched", status: response.status.code, seconds: seconds)
        return response
    }
}
