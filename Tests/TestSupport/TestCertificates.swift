import Foundation

/// A throwaway certificate authority for TLS tests, made with the `openssl` command-line tool:
/// a P-256 CA valid for two days, and leaf certificates it signs for servers and clients.
public struct TestCertificateAuthority: Sendable {
    /// A certificate and its private key, as PEM files.
    public struct Issued: Sendable {
        public let certificate: URL
        public let key: URL
    }

    public let directory: URL
    public let certificate: URL
    public let key: URL

    /// Creates a CA named `name` in `directory` (created if missing).
    public static func make(in directory: URL, name: String) throws -> TestCertificateAuthority {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ca = TestCertificateAuthority(
            directory: directory, certificate: directory.appendingPathComponent("\(name).crt"),
            key: directory.appendingPathComponent("\(name).key"))
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", ca.key.path, "-out", ca.certificate.path, "-days", "2", "-subj", "/CN=\(name)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        return ca
    }

    /// Issues a certificate for `commonName` with `subjectAlternativeNames` such as `IP:127.0.0.1`
    /// or `DNS:localhost` (none: only the common name). With `keyPassword` the key file is
    /// encrypted (PKCS#8, AES-256).
    public func issue(
        _ fileName: String, commonName: String, subjectAlternativeNames: [String], keyPassword: String? = nil
    ) throws -> Issued {
        let key = directory.appendingPathComponent("\(fileName).key")
        let request = directory.appendingPathComponent("\(fileName).csr")
        let certificate = directory.appendingPathComponent("\(fileName).crt")
        let extensions = directory.appendingPathComponent("\(fileName).ext")
        var lines = [
            "basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
            "extendedKeyUsage=serverAuth,clientAuth",
        ]
        if !subjectAlternativeNames.isEmpty { lines.append("subjectAltName=" + subjectAlternativeNames.joined(separator: ",")) }
        try (lines.joined(separator: "\n") + "\n").write(to: extensions, atomically: true, encoding: .utf8)
        try Self.openssl([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key.path, "-out", request.path, "-subj", "/CN=\(commonName)",
        ])
        try Self.openssl([
            "x509", "-req", "-in", request.path, "-CA", self.certificate.path, "-CAkey", self.key.path, "-CAcreateserial",
            "-out", certificate.path, "-days", "2", "-extfile", extensions.path,
        ])
        if let keyPassword {
            let plain = directory.appendingPathComponent("\(fileName).plain.key")
            try FileManager.default.moveItem(at: key, to: plain)
            try Self.openssl(["pkey", "-in", plain.path, "-out", key.path, "-aes256", "-passout", "pass:\(keyPassword)"])
            try FileManager.default.removeItem(at: plain)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key.path)
        return Issued(certificate: certificate, key: key)
    }

    private static func openssl(_ arguments: [String]) throws {
        let result = try ChildProcess.run(URL(fileURLWithPath: "/usr/bin/openssl"), arguments)
        guard result.status == 0 else {
            let command = arguments.prefix(2).joined(separator: " ")
            throw ChildProcess.LaunchError(description: "openssl \(command) failed: \(result.standardError)")
        }
    }
}
