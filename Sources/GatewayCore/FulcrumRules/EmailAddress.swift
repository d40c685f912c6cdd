/// What Fulcrum takes for an email address, with no dependency (configuration decoding uses it too).
public enum EmailAddress {
    /// `local@domain.tld`, without spaces.
    public static func isPlausible(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !text.contains(where: \.isWhitespace)
    }
}
