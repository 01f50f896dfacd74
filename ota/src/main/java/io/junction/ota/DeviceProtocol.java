package io.junction.ota;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
import com.fasterxml.jackson.dataformat.cbor.CBORGenerator;

import io.junction.core.Json;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;

/**
 * The OTA device protocol in its two encodings. A device publishes requests on {@code <uid>/ota/p}; they reach this
 * class as the body of a raw-stream message: a JSON object for the JSON form, or {@code {"value": <base64>,
 * "encoding": "base64"}} for Pyrinas' CBOR form (CBOR maps never decode as UTF-8, so the pre-processor always keeps
 * them as base64). Answers are encoded in the form the device used.
 *
 * <p>CBOR (Pyrinas, serde "packed" maps with integer keys): request {@code {0: cmd, 1: id?, 2: start_pos?, 3: end_pos?}}
 * with cmd 0 = check, 1 = done, 2 = download bytes; offer {@code {0: id, 1: {0: major, 1: minor, 2: patch,
 * 3: commit, 4: [8 hash bytes]}, 2: null, 3: size, 4: date_added, 5: sha256 bytes, 6: signature bytes?}}; no update =
 * an empty payload; chunk {@code {0: start_pos, 1: end_pos, 2: data, 3: len}}.
 */
final class DeviceProtocol {

    /** How a device talks; it is answered the same way. */
    enum Encoding { JSON, CBOR }

    /** One request from a device. */
    sealed interface Request permits Check, Download, Progress, Done, Failed {
    }

    /** Is there an update for me? {@code version}: what the device runs, when it says. */
    record Check(Optional<PackageVersion> version) implements Request {
    }

    /** Send me bytes {@code [start, end)} of package {@code id}. */
    record Download(String id, long start, long end) implements Request {
    }

    /** I have {@code bytes} of the image. */
    record Progress(Optional<String> id, long bytes) implements Request {
    }

    /** I installed it (and now run {@code version}). */
    record Done(Optional<String> id, Optional<PackageVersion> version) implements Request {
    }

    /** I could not install it, because {@code reason}. */
    record Failed(Optional<String> id, String reason) implements Request {
    }

    /** A request as decoded: its encoding, and either the request or why it is not one. */
    record Decoded(Encoding encoding, Optional<Request> request, String problem) {
        static Decoded ok(Encoding e, Request r) {
            return new Decoded(e, Optional.of(r), "");
        }

        static Decoded bad(Encoding e, String problem) {
            return new Decoded(e, Optional.empty(), problem);
        }
    }

    static final int MAX_REASON = 512;

    private static final CBORFactory CBOR = new CBORFactory();
    private static final byte[] EMPTY = new byte[0];

    private DeviceProtocol() {
    }

    /** Decodes the body of a raw-stream message that came in on {@code <uid>/ota/p}. */
    static Decoded decode(String body) {
        JsonNode n;
        try {
            n = Json.parse(body);
        } catch (IOException e) {
            return Decoded.bad(Encoding.JSON, "the request is not JSON");
        }
        if (n.path("encoding").asText().equals("base64") && n.path("value").isTextual() && n.size() == 2) {
            byte[] bytes;
            try {
                bytes = Base64.getDecoder().decode(n.get("value").asText());
            } catch (IllegalArgumentException e) {
                return Decoded.bad(Encoding.CBOR, "the payload is not valid base64");
            }
            return decodeCbor(bytes);
        }
        return decodeJson(n);
    }

    static Decoded decodeCbor(byte[] bytes) {
        Integer cmd = null;
        String id = null;
        Long start = null;
        Long end = null;
        try (JsonParser p = CBOR.createParser(bytes)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return Decoded.bad(Encoding.CBOR, "the request is not a CBOR map");
            }
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                JsonToken v = p.nextToken();
                switch (key) {
                    case "0" -> {
                        if (v != JsonToken.VALUE_NUMBER_INT) {
                            return Decoded.bad(Encoding.CBOR, "key 0 (cmd) must be an integer");
                        }
                        cmd = p.getIntValue();
                    }
                    // Pyrinas v2 clients put an integer (the protocol version they want) under key 1: not an id.
                    case "1" -> id = v == JsonToken.VALUE_STRING ? p.getText() : null;
                    case "2" -> start = v == JsonToken.VALUE_NUMBER_INT ? p.getLongValue() : null;
                    case "3" -> end = v == JsonToken.VALUE_NUMBER_INT ? p.getLongValue() : null;
                    default -> p.skipChildren();
                }
            }
            if (t != JsonToken.END_OBJECT) {
                return Decoded.bad(Encoding.CBOR, "the CBOR map is cut short");
            }
        } catch (IOException e) {
            return Decoded.bad(Encoding.CBOR, "the request is not valid CBOR: " + e.getMessage());
        }
        if (cmd == null) {
            return Decoded.bad(Encoding.CBOR, "the request has no cmd (key 0)");
        }
        return switch (cmd) {
            case 0 -> Decoded.ok(Encoding.CBOR, new Check(Optional.empty()));
            case 1 -> Decoded.ok(Encoding.CBOR, new Done(Optional.ofNullable(id), Optional.empty()));
            case 2 -> {
                if (id == null || start == null || end == null) {
                    yield Decoded.bad(Encoding.CBOR, "download bytes needs id (1), start_pos (2) and end_pos (3)");
                }
                yield download(Encoding.CBOR, id, start, end);
            }
            default -> Decoded.bad(Encoding.CBOR, "unknown cmd " + cmd + ": use 0 (check), 1 (done) or 2 (download bytes)");
        };
    }

    private static Decoded download(Encoding e, String id, long start, long end) {
        if (start < 0 || end <= start) {
            return Decoded.bad(e, "a download needs 0 <= start < end, got start " + start + " and end " + end);
        }
        return Decoded.ok(e, new Download(id, start, end));
    }

    static Decoded decodeJson(JsonNode n) {
        Encoding e = Encoding.JSON;
        if (!n.isObject() || !n.path("type").isTextual()) {
            return Decoded.bad(e, "a request is a JSON object with a \"type\": check, progress, done, failed or download");
        }
        Optional<String> id = n.path("id").isTextual() ? Optional.of(n.get("id").asText()) : Optional.empty();
        Optional<PackageVersion> version = Optional.empty();
        if (n.has("version")) {
            if (!n.get("version").isTextual()) {
                return Decoded.bad(e, "\"version\" must be a string such as \"1.2.3\"");
            }
            try {
                version = Optional.of(PackageVersion.parse(n.get("version").asText()));
            } catch (IllegalArgumentException x) {
                return Decoded.bad(e, x.getMessage());
            }
        }
        return switch (n.get("type").asText()) {
            case "check" -> Decoded.ok(e, new Check(version));
            case "progress" -> {
                JsonNode b = n.path("bytes");
                if (!b.canConvertToLong() || b.asLong() < 0) {
                    yield Decoded.bad(e, "a progress report needs \"bytes\": how many bytes of the image the device has");
                }
                yield Decoded.ok(e, new Progress(id, b.asLong()));
            }
            case "done" -> Decoded.ok(e, new Done(id, version));
            case "failed" -> {
                String reason = n.path("reason").asText("");
                if (reason.isBlank()) {
                    yield Decoded.bad(e, "a failed report needs a \"reason\"");
                }
                yield Decoded.ok(e, new Failed(id, reason.length() > MAX_REASON ? reason.substring(0, MAX_REASON) : reason));
            }
            case "download" -> {
                if (id.isEmpty() || !n.path("start").canConvertToLong() || !n.path("end").canConvertToLong()
                        || !n.path("start").isIntegralNumber() || !n.path("end").isIntegralNumber()) {
                    yield Decoded.bad(e, "a download needs \"id\", \"start\" and \"end\" (end exclusive)");
                }
                yield download(e, id.get(), n.get("start").asLong(), n.get("end").asLong());
            }
            default -> Decoded.bad(e, "unknown type \"" + n.get("type").asText()
                    + "\": use check, progress, done, failed or download");
        };
    }

    /** The answer to a check when there is an update. */
    static byte[] offer(Encoding e, OtaPackage p, String rollout, String url) {
        return e == Encoding.CBOR ? cborOffer(p) : jsonOffer(p, rollout, url);
    }

    /** The answer to a check when there is none. */
    static byte[] none(Encoding e) {
        return e == Encoding.CBOR ? EMPTY : "{\"type\":\"none\"}".getBytes(StandardCharsets.UTF_8);
    }

    static byte[] chunk(Encoding e, String id, long start, byte[] data) {
        long end = start + data.length;
        if (e == Encoding.CBOR) {
            ByteArrayOutputStream out = new ByteArrayOutputStream(data.length + 32);
            try (CBORGenerator g = CBOR.createGenerator(out)) {
                g.writeStartObject();
                g.writeFieldId(0);
                g.writeNumber(start);
                g.writeFieldId(1);
                g.writeNumber(end);
                g.writeFieldId(2);
                g.writeBinary(data);
                g.writeFieldId(3);
                g.writeNumber(data.length);
                g.writeEndObject();
            } catch (IOException x) {
                throw new UncheckedIOException(x);
            }
            return out.toByteArray();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(data.length * 4 / 3 + 96);
        try (JsonGenerator g = Json.generator(out)) {
            g.writeStartObject();
            g.writeStringField("type", "chunk");
            g.writeStringField("id", id);
            g.writeNumberField("start", start);
            g.writeNumberField("end", end);
            g.writeNumberField("len", data.length);
            g.writeFieldName("data");
            g.writeBinary(data);
            g.writeEndObject();
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        }
        return out.toByteArray();
    }

    /** A JSON device's answer to a request it got wrong; CBOR devices get none (Pyrinas has no error message). */
    static byte[] error(String detail) {
        return Json.write(Json.object().put("type", "error").put("error", "bad request").put("detail", detail))
                .getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] jsonOffer(OtaPackage p, String rollout, String url) {
        var n = Json.object();
        n.put("type", "offer");
        n.put("rollout", rollout);
        n.put("id", p.id());
        n.put("version", p.version().toString());
        n.put("url", url);
        n.put("size", p.size());
        n.put("sha256", p.sha256());
        p.signature().ifPresent(s -> n.put("signature", s));
        return Json.write(n).getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] cborOffer(OtaPackage p) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(160);
        try (CBORGenerator g = CBOR.createGenerator(out)) {
            g.writeStartObject();
            g.writeFieldId(0);
            g.writeString(p.id());
            g.writeFieldId(1);
            g.writeStartObject();
            g.writeFieldId(0);
            g.writeNumber(p.version().major());
            g.writeFieldId(1);
            g.writeNumber(p.version().minor());
            g.writeFieldId(2);
            g.writeNumber(p.version().patch());
            g.writeFieldId(3);
            g.writeNumber(commit(p.version()));
            g.writeFieldId(4);
            byte[] hash = hash(p.version());
            g.writeStartArray(null, hash.length);
            for (byte b : hash) {
                g.writeNumber(b & 0xFF);
            }
            g.writeEndArray();
            g.writeEndObject();
            g.writeFieldId(2);
            g.writeNull();
            g.writeFieldId(3);
            g.writeNumber(p.size());
            g.writeFieldId(4);
            g.writeString(Instant.ofEpochMilli(p.createdAt()).toString());
            g.writeFieldId(5);
            g.writeBinary(HexFormat.of().parseHex(p.sha256()));
            if (p.signature().isPresent()) {
                g.writeFieldId(6);
                g.writeBinary(Base64.getDecoder().decode(p.signature().get()));
            }
            g.writeEndObject();
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        }
        return out.toByteArray();
    }

    /** Pyrinas' version has a commit count (0–255): a build id of digits in that range, else 0. */
    static int commit(PackageVersion v) {
        String b = v.build().orElse("");
        if (b.matches("[0-9]{1,3}") && Integer.parseInt(b) <= 255) {
            return Integer.parseInt(b);
        }
        return 0;
    }

    /** Pyrinas' version has an 8-byte hash (a short commit id): the first 8 characters of a non-numeric build id. */
    static byte[] hash(PackageVersion v) {
        byte[] hash = new byte[8];
        String b = v.build().orElse("");
        if (!b.isEmpty() && commit(v) == 0 && !b.equals("0")) {
            byte[] ascii = b.getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(ascii, 0, hash, 0, Math.min(8, ascii.length));
        }
        return hash;
    }
}
