import Foundation
import Testing
import TestSupport

/// The `vanectl eval` command line: output format and failure handling.
@Suite("vanectl eval")
struct VanectlEvalTests {
    private func temporaryFile(_ contents: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vane-\(UUID().uuidString).json")
        try Data(contents.utf8).write(to: url)
        return url
    }

    private let data = #"""
        {"flags":{"b":{"key":"b","version":1,"on":true,"variations":["x","y"],"fallthrough":{"variation":1}},
                  "a":{"key":"a","version":1,"on":false,"variations":[1,2]},
                  "gone":{"key":"gone","version":2,"deleted":true}},
         "segments":{}}
        """#

    @Test("prints one line per context and flag, in file and key order, with LaunchDarkly's reason shape")
    func output() async throws {
        let dataFile = try temporaryFile(data)
        let contextsFile = try temporaryFile(#"[{"kind":"user","key":"u"},{"kind":"user","key":""}]"#)
        let result = try await ChildProcess.run(
            RepositoryPaths.executable("vanectl"), ["eval", "--data", dataFile.path, "--contexts", contextsFile.path])
        #expect(result.status == 0)
        #expect(result.standardOutput == """
            {"context":0,"flag":"a","value":null,"variationIndex":null,"reason":{"kind":"OFF"}}
            {"context":0,"flag":"b","value":"y","variationIndex":1,"reason":{"kind":"FALLTHROUGH"}}
            {"context":1,"flag":"a","value":null,"variationIndex":null,"reason":{"kind":"ERROR","errorKind":"USER_NOT_SPECIFIED"}}
            {"context":1,"flag":"b","value":null,"variationIndex":null,"reason":{"kind":"ERROR","errorKind":"USER_NOT_SPECIFIED"}}

            """)
    }

    @Test("--flag evaluates one flag; a missing or deleted one is FLAG_NOT_FOUND")
    func singleFlag() async throws {
        let dataFile = try temporaryFile(data)
        let contextsFile = try temporaryFile(#"[{"kind":"user","key":"u"}]"#)
        for key in ["gone", "nope"] {
            let result = try await ChildProcess.run(
                RepositoryPaths.executable("vanectl"),
                ["eval", "--data", dataFile.path, "--contexts", contextsFile.path, "--flag", key])
            #expect(result.standardOutput == #"{"context":0,"flag":"\#(key)","value":null,"variationIndex":null,"#
                + #""reason":{"kind":"ERROR","errorKind":"FLAG_NOT_FOUND"}}"# + "\n")
        }
    }

    @Test("an unreadable or invalid file exits 2 with one stderr line naming the file and position")
    func badFiles() async throws {
        let contextsFile = try temporaryFile(#"[{"kind":"user","key":"u"}]"#)
        let broken = try temporaryFile("{\"flags\": {\n  \"a\": [1,,2]\n}}")
        let cases: [(String, String)] = [
            ("/nonexistent/data.json", "/nonexistent/data.json: cannot read"),
            (broken.path, "\(broken.path): line 2, column 11: unexpected character ','"),
        ]
        for (path, expected) in cases {
            let result = try await ChildProcess.run(
                RepositoryPaths.executable("vanectl"), ["eval", "--data", path, "--contexts", contextsFile.path])
            #expect(result.status == 2)
            #expect(result.standardOutput.isEmpty)
            let lines = result.standardError.split(separator: "\n")
            #expect(lines.count == 1)
            #expect(lines.first?.contains(expected) == true, "\(result.standardError)")
        }
        let dataFile = try temporaryFile(data)
        let notArray = try temporaryFile(#"{"kind":"user"}"#)
        let result = try await ChildProcess.run(
            RepositoryPaths.executable("vanectl"), ["eval", "--data", dataFile.path, "--contexts", notArray.path])
        #expect(result.status == 2)
        #expect(result.standardError.contains("expected a JSON array of contexts"))
    }
}
