public import HTTPTypes

/// The one error type of the SCIM surface (RFC 7644 §3.12).
///
/// Thrown anywhere in the pipeline or a backend and rendered once at the HTTP edge as
/// `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"…"}`.
public struct SCIMError: Error, Sendable, Hashable {
    /// The `scimType` keyword of RFC 7644 Table 9; extensible like NIO's error codes.
    public struct SCIMType: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidFilter = Self(rawValue: "invalidFilter")
        public static let tooMany = Self(rawValue: "tooMany")
        public static let uniqueness = Self(rawValue: "uniqueness")
        public static let mutability = Self(rawValue: "mutability")
        public static let invalidSyntax = Self(rawValue: "invalidSyntax")
        public static let invalidPath = Self(rawValue: "invalidPath")
        public static let noTarget = Self(rawValue: "noTarget")
        public static let invalidValue = Self(rawValue: "invalidValue")
        public static let invalidVers = Self(rawValue: "invalidVers")
        public static let sensitive = Self(rawValue: "sensitive")
    }

    /// The HTTP status, rendered as a string in the body.
    public var status: HTTPResponse.Status
    /// The SCIM detail error keyword, when RFC 7644 defines one for the case.
    public var scimType: SCIMType?
    /// A human-readable message for the operator or the identity provider's log.
    public var detail: String
    /// Extra response headers (`WWW-Authenticate`, `Retry-After`, …).
    public var headers: HTTPFields

    public init(status: HTTPResponse.Status, scimType: SCIMType? = nil, detail: String, headers: HTTPFields = [:]) {
        self.status = status
        self.scimType = scimType
        self.detail = detail
        self.headers = headers
    }
}

extension SCIMError {
    /// 404 for a resource id that does not exist (or is not visible to SCIM).
    public static func notFound(_ type: ResourceType, id: String) -> Self {
        .init(status: .notFound, detail: "\(type.name) \(id) not found")
    }

    /// 404 for a path the server does not serve.
    public static func unknownEndpoint(_ path: String) -> Self {
        .init(status: .notFound, detail: "no SCIM endpoint at \(path)")
    }

    /// 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3).
    public static func unauthorized(_ detail: String) -> Self {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = #"Bearer realm="scim-gateway""#
        return .init(status: .unauthorized, detail: detail, headers: headers)
    }

    /// 403: authenticated, but not allowed.
    public static func forbidden(_ detail: String) -> Self {
        .init(status: .forbidden, detail: detail)
    }

    /// 409 `uniqueness`.
    public static func uniqueness(_ detail: String) -> Self {
        .init(status: .conflict, scimType: .uniqueness, detail: detail)
    }

    /// 400 `invalidValue`.
    public static func invalidValue(_ detail: String) -> Self {
        .init(status: .badRequest, scimType: .invalidValue, detail: detail)
    }

    /// 400 `invalidSyntax`.
    public static func invalidSyntax(_ detail: String) -> Self {
        .init(status: .badRequest, scimType: .invalidSyntax, detail: detail)
    }

    /// 400 `invalidFilter`.
    public static func invalidFilter(_ detail: String) -> Self {
        .init(status: .badRequest, scimType: .invalidFilter, detail: detail)
    }

    /// 405 for a method the endpoint does not support.
    public static func methodNotAllowed(_ method: String, path: String) -> Self {
        .init(status: .methodNotAllowed, detail: "\(method) is not supported on \(path)")
    }

    /// 501 for a SCIM feature this server does not offer.
    public static func notImplemented(_ detail: String) -> Self {
        .init(status: .notImplemented, detail: detail)
    }

    /// 500 that hides the cause from the client; the cause is logged under `requestID`.
    public static func internalError(requestID: String) -> Self {
        .init(status: .internalServerError, detail: "internal error; see the gateway log for request \(requestID)")
    }

    /// The RFC 7644 §3.12 body.
    public var body: JSONValue {
        var members: [String: JSONValue] = [
            "schemas": [.string(SCIMSchema.error)],
            "status": .string(String(status.code)),
            "detail": .string(detail),
        ]
        if let scimType { members["scimType"] = .string(scimType.rawValue) }
        return .object(members)
    }
}

extension SCIMError {
    /// `text` as an error detail quotes it: whole up to 200 characters, else its first 200 and an ellipsis, so a
    /// hostile 20 KB path is not sent back whole.
    public static func excerpt(_ text: String) -> String {
        text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
