/// The one error type the library throws.
///
/// Every message names what it is about: the file, the line, the tensor or the option,
/// so a CLI can print it as is and a server can return it to its client.
public struct BertError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is, so callers can react without parsing messages.
    public enum Kind: String, Sendable {
        /// A file could not be opened, read or mapped.
        case io
        /// A file exists but its contents are malformed (bad JSON, bad safetensors header, ...).
        case invalidFile
        /// A tensor the model needs is absent from its weights.
        case missingTensor
        /// A tensor or buffer has a shape that disagrees with the config or the data.
        case shape
        /// `config.json` (or another config) is missing a key or holds an unsupported value.
        case config
        /// The caller's input cannot be processed (empty text, no `[MASK]`, bad option ...).
        case invalidInput
        /// The checkpoint is fine but lacks what the task needs (e.g. no QA head).
        case unsupported
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
