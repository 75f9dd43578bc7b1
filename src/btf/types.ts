/**
 * The BTF type model: one object per BTF type, references between types as direct object
 * references (a graph), each type knowing its id in the Spec it came from.
 *
 * Kinds and encodings follow include/uapi/linux/btf.h. Objects are mutable so that a loader
 * can adjust them before BPF_BTF_LOAD (datasec sizes, sanitising kinds an old kernel lacks).
 */

export const BTF_KIND = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16, // kernel 5.13+
  DECL_TAG: 17, // kernel 5.16+
  TYPE_TAG: 18, // kernel 5.17+
  ENUM64: 19, // kernel 6.0+
} as const;

export type Kind =
  | 'void'
  | 'int'
  | 'ptr'
  | 'array'
  | 'struct'
  | 'union'
  | 'enum'
  | 'fwd'
  | 'typedef'
  | 'volatile'
  | 'const'
  | 'restrict'
  | 'func'
  | 'func_proto'
  | 'var'
  | 'datasec'
  | 'float'
  | 'decl_tag'
  | 'type_tag'
  | 'enum64';

interface TypeBase {
  /** Id in the Spec this type belongs to (0 is void). For split BTF, ids continue after the base. */
  id: number;
  /** The type's name; '' for anonymous types. */
  name: string;
}

export interface VoidType extends TypeBase {
  kind: 'void';
}

export interface IntType extends TypeBase {
  kind: 'int';
  /** Size in bytes. */
  size: number;
  /** Number of value bits (BTF_INT_BITS). */
  bits: number;
  /** Bit offset of the value (BTF_INT_OFFSET, almost always 0). */
  offset: number;
  signed: boolean;
  char: boolean;
  bool: boolean;
}

export interface PointerType extends TypeBase {
  kind: 'ptr';
  target: Type;
}

export interface ArrayType extends TypeBase {
  kind: 'array';
  element: Type;
  index: Type;
  length: number;
}

export interface Member {
  name: string;
  type: Type;
  /** Offset from the start of the struct, in bits. */
  bitOffset: number;
  /** 0 unless the member is a bitfield. */
  bitfieldSize: number;
}

export interface StructType extends TypeBase {
  kind: 'struct' | 'union';
  size: number;
  members: Member[];
}

export interface EnumValue {
  name: string;
  value: bigint;
}

export interface EnumType extends TypeBase {
  kind: 'enum' | 'enum64';
  /** Size in bytes (1, 2, 4 or 8). */
  size: number;
  signed: boolean;
  values: EnumValue[];
}

export interface FwdType extends TypeBase {
  kind: 'fwd';
  fwdKind: 'struct' | 'union';
}

/** typedef, volatile, const, restrict and type_tag: a name or qualifier on another type. */
export interface RefType extends TypeBase {
  kind: 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag';
  target: Type;
}

export type Linkage = 'static' | 'global' | 'extern';

export interface FuncParam {
  /** '' for unnamed parameters. */
  name: string;
  /** A void type as the last parameter with an empty name marks a variadic function. */
  type: Type;
}

export interface FuncProtoType extends TypeBase {
  kind: 'func_proto';
  returnType: Type;
  params: FuncParam[];
}

export interface FuncType extends TypeBase {
  kind: 'func';
  proto: FuncProtoType;
  linkage: Linkage;
}

export interface VarType extends TypeBase {
  kind: 'var';
  type: Type;
  linkage: Linkage;
}

export interface VarSecinfo {
  /** A var, or a func for `.ksyms` extern functions. */
  type: Type;
  offset: number;
  size: number;
}

export interface DatasecType extends TypeBase {
  kind: 'datasec';
  size: number;
  vars: VarSecinfo[];
}

export interface FloatType extends TypeBase {
  kind: 'float';
  size: number;
}

export interface DeclTagType extends TypeBase {
  kind: 'decl_tag';
  /** name holds the tag's value, e.g. "user". */
  target: Type;
  /** -1 when the tag applies to the whole target, else the member or parameter index. */
  componentIndex: number;
}

export type Type =
  | VoidType
  | IntType
  | PointerType
  | ArrayType
  | StructType
  | EnumType
  | FwdType
  | RefType
  | FuncProtoType
  | FuncType
  | VarType
  | DatasecType
  | FloatType
  | DeclTagType;

/** The one void type (id 0) shared by every Spec. */
export const VOID: VoidType = Object.freeze({ id: 0, kind: 'void', name: '' }) as VoidType;

/** Which BTF features the target kernel supports; the marshaller sanitises what is missing. */
export interface BtfFeatures {
  /** BTF_KIND_FUNC and FUNC_PROTO (4.20+; without them funcs become typedefs... see marshal). */
  func: boolean;
  /** Global function linkage (5.6+). */
  globalFunc: boolean;
  /** VAR and DATASEC (5.2+). */
  datasec: boolean;
  /** FLOAT (5.13+). */
  float: boolean;
  /** DECL_TAG (5.16+). */
  declTag: boolean;
  /** TYPE_TAG (5.17+). */
  typeTag: boolean;
  /** ENUM64 and signed enums (6.0+). */
  enum64: boolean;
  /**
   * DATASEC names starting with '?' (libbpf probes this as FEAT_BTF_QMARK_DATASEC; older
   * kernels reject them); when false the marshaller renames them '_...'. Optional: undefined
   * means supported.
   */
  qmarkDatasec?: boolean;
}

export const ALL_BTF_FEATURES: BtfFeatures = Object.freeze({
  func: true,
  globalFunc: true,
  datasec: true,
  float: true,
  declTag: true,
  typeTag: true,
  enum64: true,
  qmarkDatasec: true,
});
