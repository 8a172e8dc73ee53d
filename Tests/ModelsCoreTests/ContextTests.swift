import ModelsCore
import Testing

@Suite("Contexts and attribute references")
struct ContextTests {
    @Test("single-kind contexts with built-ins, custom attributes and private attributes")
    func singleKind() throws {
        let c = try EvaluationContext(json: json(#"""
            {"kind":"org","key":"acme","name":"Acme","anonymous":true,"tier":"gold","n":null,
             "_meta":{"privateAttributes":["tier","/address/street"]}}
            """#))
        #expect(!c.isMulti)
        #expect(c.kind == "org")
        let org = try #require(c.individualContext(kind: "org"))
        #expect(org.name == "Acme")
        #expect(org.anonymous)
        #expect(org.attributes == ["tier": "gold"], "null attributes are unset")
        #expect(org.privateAttributes.map(\.components) == [["tier"], ["address", "street"]])
        #expect(c.individualContext(kind: nil) == nil)
    }

    @Test("multi-kind contexts; one member is a single-kind context")
    func multiKind() throws {
        let c = try EvaluationContext(json: json(#"{"kind":"multi","user":{"key":"u1"},"org":{"key":"o1","x":1}}"#))
        #expect(c.isMulti)
        #expect(c.kind == "multi")
        #expect(c.individualContexts.map(\.kind) == ["org", "user"])
        #expect(c.individualContext(kind: "user")?.key == "u1")
        let one = try EvaluationContext(json: json(#"{"kind":"multi","org":{"key":"o1"}}"#))
        #expect(!one.isMulti)
        #expect(one.kind == "org")
    }

    @Test("the pre-context user format becomes a user context")
    func oldUser() throws {
        let c = try EvaluationContext(json: json(#"""
            {"key":"u1","email":"a@b.c","anonymous":false,"secondary":"s","country":null,
             "custom":{"plan":"gold","kind":"x","name":"ignored"},"privateAttributeNames":["email"]}
            """#))
        let user = try #require(c.individualContext(kind: "user"))
        #expect(user.key == "u1")
        #expect(user.attributes == ["email": "a@b.c", "plan": "gold"])
        #expect(user.name == nil)
        #expect(user.secondary == "s")
        #expect(user.privateAttributes.map(\.rawValue) == ["email"])
        #expect((try? EvaluationContext(json: json(#"{"key":""}"#))) != nil, "old users may have empty keys")
    }

    @Test("kinds as Go reads them: an empty member name or inner kind means user; an inner kind wins")
    func kindQuirks() throws {
        #expect(try EvaluationContext(json: json(#"{"kind":"multi","":{"key":"u"},"org":{"key":"o"}}"#))
            .individualContext(kind: "user")?.key == "u")
        #expect(try EvaluationContext(json: json(#"{"kind":"multi","org":{"key":"o","kind":"device"},"user":{"key":"u"}}"#))
            .individualContexts.map(\.kind) == ["device", "user"])
        #expect(try EvaluationContext(json: json(#"{"kind":"org","key":"o","":1}"#)).individualContexts[0].attributes.isEmpty,
                "an attribute named \"\" is ignored")
        #expect(throws: ContextError.self) {
            try EvaluationContext(json: json(#"{"kind":"multi","org":{"key":"o","kind":"user"},"user":{"key":"u"}}"#))
        }
    }

    @Test("invalid contexts are rejected", arguments: [
        #"{"kind":"user","key":""}"#, #"{"kind":"user"}"#, #"{"kind":"user","key":1}"#, #"{"kind":"","key":"k"}"#,
        #"{"kind":"kind","key":"k"}"#, #"{"kind":"a b","key":"k"}"#, #"{"kind":"multi"}"#,
        #"{"kind":"multi","user":"u"}"#, #"{"kind":"multi","user":{"key":""}}"#, #"{"kind":"user","key":"k","name":5}"#,
        #"{"kind":"user","key":"k","anonymous":"yes"}"#, #"{"kind":5,"key":"k"}"#, #"{"email":"x"}"#, #"[1]"#, #""u""#,
        #"{"kind":"user","key":"k","_meta":{"privateAttributes":[1]}}"#, #"{"kind":"user","key":"k","anonymous":null}"#,
        #"{"kind":"user","key":null}"#, #"{"kind":"multi","multi":{"key":"m"}}"#, #"{"key":"k","anonymous":1}"#,
    ])
    func invalid(_ text: String) {
        #expect(throws: ContextError.self) { try EvaluationContext(json: json(text)) }
    }

    @Test("fully-qualified keys escape % and : and sort kinds")
    func fullyQualifiedKey() {
        #expect(context(#"{"kind":"user","key":"alice"}"#).fullyQualifiedKey == "alice")
        #expect(context(#"{"kind":"org","key":"acme"}"#).fullyQualifiedKey == "org:acme")
        #expect(context(#"{"kind":"multi","user":{"key":"u%1"},"org":{"key":"acme:1"}}"#).fullyQualifiedKey
            == "org:acme%3A1:user:u%251")
    }

    @Test("attribute references: paths, escapes and invalid forms", arguments: [
        ("name", ["name"]), ("/name", ["name"]), ("/a/b", ["a", "b"]), ("/a~1b/c~0d", ["a/b", "c~d"]),
        ("/~01", ["~1"]), ("a/b", ["a/b"]), ("/a/2", ["a", "2"]),
    ])
    func references(text: String, components: [String]) {
        let reference = AttributeReference(reference: text)
        #expect(reference.isValid)
        #expect(reference.components == components)
    }

    @Test("invalid attribute references", arguments: ["", "/", "//", "/a//b", "/a/", "/a~b", "/a~"])
    func invalidReferences(_ text: String) {
        #expect(!AttributeReference(reference: text).isValid)
    }

    @Test("literal references keep slashes; the owner's context kind decides")
    func literal() {
        #expect(AttributeReference("/a/b", ownerContextKind: nil).components == ["/a/b"])
        #expect(AttributeReference("/a/b", ownerContextKind: "").components == ["/a/b"])
        #expect(AttributeReference("/a/b", ownerContextKind: "user").components == ["a", "b"])
        #expect(!AttributeReference("", ownerContextKind: nil).isValid)
    }

    @Test("lookups follow objects only; anonymous is always a boolean")
    func lookups() throws {
        let c = try #require(context(#"{"kind":"user","key":"k","obj":{"p/q":1,"2":"two","arr":[1]},"list":["a"]}"#)
            .individualContext(kind: "user"))
        #expect(c.value(for: AttributeReference(reference: "/obj/p~1q")) == 1)
        #expect(c.value(for: AttributeReference(reference: "/obj/2")) == "two")
        #expect(c.value(for: AttributeReference(reference: "/list/0")) == nil)
        #expect(c.value(for: AttributeReference(reference: "/obj/arr/0")) == nil)
        #expect(c.value(for: AttributeReference(reference: "anonymous")) == false)
        #expect(c.value(for: AttributeReference(reference: "name")) == nil)
        #expect(c.value(for: AttributeReference(reference: "kind")) == "user")
        #expect(c.value(for: AttributeReference(reference: "/key")) == "k")
    }

    @Test("contexts write back in the current format")
    func writing() throws {
        let c = try EvaluationContext(json: json(#"{"kind":"multi","user":{"key":"u","name":"N","z":1,"a":true},"org":{"key":"o"}}"#))
        var w = JSONWriter()
        c.write(to: &w)
        #expect(w.string == #"{"kind":"multi","org":{"key":"o"},"user":{"key":"u","name":"N","a":true,"z":1}}"#)
    }
}
