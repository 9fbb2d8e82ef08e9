// Writes skill_vectors.json: manifests signed here with Node's crypto following the original
// algorithm (canonical.mjs), their canonical forms and digests, and localeCompare / JSON.stringify
// behaviour on tricky keys, numbers and strings. Run: node tests/vectors/make_vectors.mjs
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { canonical, manifestDigest, signManifest, sortKeys } from "./canonical.mjs";

const pem = (pair) => ({
  privateKeyPem: pair.privateKey.export({ type: "pkcs8", format: "pem" }),
  publicKeyPem: pair.publicKey.export({ type: "spki", format: "pem" }),
});
const edPair = generateKeyPairSync("ed25519");
const rsaPair = generateKeyPairSync("rsa", { modulusLength: 2048 });

// Keys that sort differently under localeCompare than under code-point order.
const TRICKY_KEYS = [
  "b", "B", "a", "A", "Zeta", "alpha", "_private", "-dash", "dash-", "dash_", "a_b", "a-b", "aB", "Ab", "ab", "AB",
  "a1", "a10", "a2", "A1", "~tilde", "$dollar", "@at", "#hash", ".dot", "x y", "xy", "x.y", "x:y", "10", "2", "0",
  "01", "-1", "1.5", "4294967294", "4294967295", "", "Ω", "é", "e", "f", "ä", "z",
];

// Mixed-script keys: accents, German, Greek, Cyrillic, CJK, emoji, digits, punctuation, mixed case, keys equal
// under primary strength (case and accent differences only), and keys equal under every strength
// localeCompare uses (canonically equivalent, or differing by an ignorable character): those keep their
// insertion order, as Array.prototype.sort is stable. None is newer than Unicode 16 (see ICU_SENSITIVE).
const UNICODE_KEYS = [
  // accents, and keys equal at primary strength
  "e", "E", "é", "É", "è", "ê", "ë", "ē", "ę", "cafe", "café", "Café", "CAFE", "cafés", "a", "A", "á", "Á", "à", "â", "ä", "Ä", "å", "ã", "ą", "æ", "Æ", "ø", "œ",
  "ç", "c", "č", "ñ", "n", "ŋ", "ı", "i", "İ", "ł", "l", "đ", "ð", "þ",
  // canonically equivalent spellings and ignorable characters (equal under localeCompare: insertion order)
  "e\u0301", "a\u0301\u0323", "a\u0323\u0301", "\u1ea1\u0301", "x\u0000", "x", "x\u200b",
  // German
  "ß", "ss", "SS", "ẞ", "Ss", "Straße", "Strasse", "STRASSE", "straße", "Äpfel", "Apfel", "äpfel", "Zürich", "Zurich", "Zuerich", "über", "uber", "Über",
  // Greek
  "α", "Α", "ά", "β", "ω", "Ω", "ώ", "λόγος", "Λόγος", "λογος", "σ", "ς", "Σ",
  // Cyrillic
  "я", "Я", "ё", "е", "Ё", "ж", "Москва", "москва", "МОСКВА", "і", "ї", "ґ",
  // CJK, kana, hangul and other scripts
  "漢", "字", "中", "中文", "日本語", "ひらがな", "カタカナ", "ｶﾀｶﾅ", "한국어", "한", "丁", "一", "〇", "שלום", "سلام", "हिन्दी", "ไทย", "ქართული", "Ἀθῆναι",
  // emoji and symbols
  "😀", "😁", "👍", "👍🏽", "🇩🇪", "❤️", "❤", "a😀", "😀a", "★", "☃", "€", "$", "£", "¥", "°", "±", "×", "÷", "∞",
  // digits of several systems
  "0", "1", "2", "10", "01", "٣", "３", "١٠", "۵", "५", "x1", "x٣", "x３", "x10", "x2", "½", "²", "Ⅻ",
  // punctuation and spaces
  "¿", "¡", "«", "»", "—", "–", "…", "·", "§", "©", "®", "\u00a0", " ", "\u3000", "、", "。", "「", "'", "\u2019", "\"", "\u201c",
  // mixed case and mixed scripts
  "aB", "Ab", "ÄB", "äb", "Äb", "aé", "aE", "aÉ", "ΑΒ", "αβ", "Αβ", "ЯЖ", "яж", "Яж", "Ǆ", "ǅ", "ǆ", "ﬁ", "fi", "Ⓐ", "ａ", "Ａ",
  // lone surrogates (JavaScript strings may hold them; JSON.stringify escapes them)
  "\ud800", "a\udfff", "\udbff\udc00",
];

// The keys of the signed manifests: all but NUL and lone surrogates, which this server refuses to store
// (PostgreSQL's jsonb holds neither); their order is checked in keyOrders.
const STORABLE_KEYS = UNICODE_KEYS.filter((key) => !/\u0000|[\ud800-\udfff]/u.test(key));

// Keys whose order another ICU version may place differently: code points new in Unicode 17 (ICU 78,
// Node 20.20) that ICU 77 (pyicu-wheels 2.15, Unicode 16) does not assign, and ideographs whose
// position ICU 78 changed. The verifier names such keys when a signature does not match.
const ICU_SENSITIVE = [
  ["a", "\u{1fac8}"], // U+1FAC8, an emoji of Unicode 17: a symbol (before letters) in ICU 78, unassigned (after every script) in ICU 77
  ["\u4748", "\u{27c2e}"], // CJK ideographs: ICU 78 and ICU 77 place them differently
  ["\u{18800}", "\u{18d00}"], // Tangut: the supplement's first ideograph
  ["\u6f22", "\u088f"], // U+088F, an Arabic letter of Unicode 17: before Han in ICU 78, after it (unassigned) in ICU 77
];

const metadata = {
  tricky: Object.fromEntries(TRICKY_KEYS.map((key, index) => [key, index])),
  numbers: [0, -0, 1, -1, 1.5, 0.1, 1e21, 1e20, 1e-7, 0.000001, 123456789.125, 2 ** 53, -1.25e-9, 5e-324],
  strings: ["plain", "quote \" backslash \\ slash /", "tab\tnewline\ncr\r", "\u0001\u001f\u007f", "é ü ß 漢字 😀",
    "\u2028\u2029", "<script>&amp;"],
  nested: { Z: [{ b: null, a: [true, false, null] }], z: {}, empty: [] },
  nothing: null,
};

function manifest(key, version) {
  return {
    schemaVersion: "1.0.0",
    skill: { key, version, entryPoint: "dist/index.js", description: null },
    publisher: { id: "acme", provenance: "https://github.com/acme/skills/actions/runs/42", repositoryUrl: "https://github.com/acme/skills" },
    artifact: {
      digest: "sha256:" + "ab".repeat(32),
      files: [
        { path: "dist/index.js", digest: "sha256:" + "cd".repeat(32), size: 1234 },
        { path: "README.md", digest: "sha256:" + "ef".repeat(32), size: 0 },
      ],
    },
    compatibility: {
      contractsSpec: { minVersion: "1.0.0" },
      controlPlaneFeature: { minVersion: "1.0.0", maxVersion: "1.9.9" },
      requiredCapabilities: [{ key: "control-plane.core", version: "1.0.0" }, { key: "control-plane.approval", version: "1.0.0" }],
    },
    metadata,
  };
}

// Unicode keys at every level: the manifest's own metadata, nested objects, objects inside arrays.
const unicodeObject = (keys) => Object.fromEntries(keys.map((key, index) => [key, index]));
function unicodeManifest(key, version, extraMetadata = {}) {
  const base = manifest(key, version);
  const { tricky, ...rest } = base.metadata;
  return {
    ...base,
    metadata: {
      ...rest,
      keys: unicodeObject(STORABLE_KEYS),
      nested: { "Ébène": { "ß": [{ "Я": 1, "я": 2, "漢字": { "😀": null, "a": [] } }] }, "ébène": "x", "Ebene": {} },
      "Größe": "groß", "Größe ": 1, "größe": 2, "描述": "説明", "Описание": "описание", "🙂": "smile", "Ω": "omega",
      ...extraMetadata,
    },
  };
}

const signed = (name, pair, unsigned, extra) => {
  const manifestSigned = signManifest(unsigned, pair.privateKey, extra);
  return { name, ...pem(pair), manifest: manifestSigned, canonical: canonical(manifestSigned), manifestDigest: manifestDigest(manifestSigned) };
};

const printable = [];
for (let code = 0x20; code < 0x7f; code++) printable.push(String.fromCharCode(code));

const NUMBER_LITERALS = ["0", "-0", "1", "-1", "1.5", "0.1", "0.2", "0.30000000000000004", "1e21", "1e20", "123e18",
  "1e-7", "1e-6", "0.000001234", "123456789.125", "9007199254740992", "9007199254740993", "18446744073709551616",
  "-1.25e-9", "5e-324", "1.7976931348623157e308", "2.5e-5", "100", "1e2", "3.14159", "6.02214076e23", "4.35", "0.5"];

const vectors = {
  generatedBy: "tests/vectors/make_vectors.mjs",
  node: process.version,
  icu: process.versions.icu,
  locale: Intl.Collator().resolvedOptions().locale,
  signed: [
    signed("ed25519", edPair, manifest("acme.summarize", "1.2.0"), { keyId: "acme-ed25519-2026", issuedAt: "2026-01-15T09:30:00.000Z", expiresAt: "2099-01-01T00:00:00.000Z" }),
    signed("rsa-pss-sha256", rsaPair, manifest("acme.translate", "2.0.0-beta.1"), { keyId: "acme-rsa-2026", issuedAt: "2026-01-15T09:30:00.000Z" }),
    signed("ed25519-expired", edPair, manifest("acme.summarize", "1.1.0"), { keyId: "acme-ed25519-2026", issuedAt: "2020-01-01T00:00:00.000Z", expiresAt: "2021-01-01T00:00:00.000Z" }),
    signed("ed25519-unicode", edPair, unicodeManifest("acme.summarize", "1.3.0"), { keyId: "acme-ed25519-2026", issuedAt: "2026-01-15T09:30:00+01:00", expiresAt: "2099-01-01T00:00:00Z" }),
    signed("rsa-pss-sha256-unicode", rsaPair, unicodeManifest("acme.translate", "2.1.0"), { keyId: "acme-rsa-2026", issuedAt: "2026-01-15T09:30:00.123456Z" }),
  ],
  // Signed by Node with keys whose order depends on the ICU version (see ICU_SENSITIVE).
  icuSensitiveSigned: [
    signed("ed25519-icu-sensitive", edPair, unicodeManifest("acme.summarize", "1.4.0", { sensitive: unicodeObject(ICU_SENSITIVE.flat()) }), { keyId: "acme-ed25519-2026" }),
  ],
  icuSensitive: ICU_SENSITIVE.map((keys) => ({ keys, localeCompare: [...keys].sort((a, b) => a.localeCompare(b)) })),
  asciiCollation: printable.sort((a, b) => a.localeCompare(b)).join(""),
  keyOrders: [TRICKY_KEYS, ["a", "A", "b", "B"], ["B", "a"], ["_", "-", ",", ";", ":", "!", "?", ".", "a"], ["a-b", "a_b", "ab", "a b", "aB", "Ab"],
    ["item10", "item2", "Item1", "item_1", "item-1"], ["10", "9", "1", "a", "01", "-5"], UNICODE_KEYS, [...UNICODE_KEYS].reverse(),
    ["é", "e\u0301", "e"], ["e\u0301", "é", "E"], ["ß", "ss", "SS", "ẞ", "st", "sr"], ["x", "x\u0000", "x\u200b"], ["x\u200b", "x\u0000", "x"]].map((keys) => ({
    keys,
    localeCompare: [...keys].sort((a, b) => a.localeCompare(b)),
    stringify: JSON.stringify(sortKeys(Object.fromEntries(keys.map((key) => [key, 0])))),
  })),
  numbers: NUMBER_LITERALS.map((literal) => ({ literal, stringify: JSON.stringify(Number(literal)) })),
  strings: ["", "a\"b", "back\\slash", "\b\f\n\r\t", "\u0000\u0001\u001f", "\u007f\u0080", "\u2028\u2029", "\ud800", "a\udfffb", "😀", "é"].map((value) => ({
    value,
    stringify: JSON.stringify(value),
  })),
};

writeFileSync(new URL("./skill_vectors.json", import.meta.url), JSON.stringify(vectors, null, 2) + "\n");
console.log("wrote tests/vectors/skill_vectors.json");
