// What an application needs besides `VaneClient`, re-exported so that `import VaneSDK` is enough:
// contexts, JSON values, evaluation details and reasons (all from ModelsCore, the evaluator the
// relay uses too).
@_exported import struct ModelsCore.EvaluationContext
@_exported import class ModelsCore.SingleKindContext
@_exported import struct ModelsCore.ContextError
@_exported import struct ModelsCore.AttributeReference
@_exported import enum ModelsCore.JSONValue
@_exported import struct ModelsCore.JSONParseError
@_exported import struct ModelsCore.EvaluationDetail
@_exported import struct ModelsCore.EvaluationReason
