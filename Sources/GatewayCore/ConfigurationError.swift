/// A configuration that cannot be used, with the key path of the offending value.
///
/// Rendered by the executable as `gateway.yaml: pipeline[1].config.burts: unknown key`, exit status 78.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of mistake it is; extensible.
    public struct Code: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let unknownKey = Self(rawValue: "unknownKey")
        public static let missingKey = Self(rawValue: "missingKey")
        public static let typeMismatch = Self(rawValue: "typeMismatch")
        public static let invalidValue = Self(rawValue: "invalidValue")
        public static let unknownPlugin = Self(rawValue: "unknownPlugin")
        public static let syntax = Self(rawValue: "syntax")
        public static let unreadable = Self(rawValue: "unreadable")
    }

    public var code: Code
    /// The key path inside the document (`pipeline[1].config.burts`); empty for the document itself.
    public var path: String
    public var message: String

    public init(_ code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    /// `path: message`, or just the message for the whole document.
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }

    /// 'unknown key' at `path`.
    public static func unknownKey(_ path: String) -> Self { .init(.unknownKey, path: path, message: "unknown key") }

    /// A value that decodes but cannot be used.
    public static func invalidValue(_ path: String, _ message: String) -> Self { .init(.invalidValue, path: path, message: message) }
}
