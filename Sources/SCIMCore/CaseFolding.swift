internal import Foundation

/// SCIM's case-insensitive comparison (RFC 7643 §2.1, `caseExact: false`) as one function every part shares: the
/// in-memory filter evaluator, the stores' normalised keys and the SQL a filter compiles to (the stores register
/// it as a function), so `title eq "émile"` matches `ÉMILE` everywhere, not only in ASCII.
public enum CaseFolding {
    /// Unicode canonical composition (NFC), then full case folding, then NFC again: `Émile`, `émile` and
    /// `E\u{301}mile` fold alike.
    public static func fold(_ text: String) -> String {
        // ASCII (most userNames and emails) is already composed, and folding it is lowercasing: no Foundation call.
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            return String(decoding: text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
        }
        return text.precomposedStringWithCanonicalMapping.folding(options: [.caseInsensitive], locale: nil).precomposedStringWithCanonicalMapping
    }
}
