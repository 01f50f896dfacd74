package io.junction.ota;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.http.Access;
import io.junction.core.http.ApiException;
import io.junction.core.http.ApiRequest;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;
import io.junction.ota.RolloutCommand.Change;
import io.junction.ota.RolloutCommand.RolloutSpec;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The OTA HTTP routes: they parse and validate what comes in, read the {@link Catalogue}, and send the
 * {@link Rollouts} actor typed requests.
 */
final class OtaRoutes {

    private static final String OCTETS = "application/octet-stream";
    private static final Set<String> ROLLOUT_FIELDS = Set.of("package", "devices", "group", "pattern", "stages", "rollback", "advance");

    private final OtaService ota;

    OtaRoutes(OtaService ota) {
        this.ota = ota;
    }

    void register(RouteTable t) {
        Rollouts actor = ota.rollouts;
        // The catalogue (packages, groups) is read from the snapshot the actor publishes; the rest is a typed request.
        t.add(Method.POST, "/api/ota/packages", this::upload);
        t.add(Method.GET, "/api/ota/packages", r -> ApiResponse.json(ota.catalogue().packagesJson()));
        t.add(Method.GET, "/api/ota/packages/{id}", r -> ApiResponse.json(ota.catalogue().packageJson(r.pathParam("id"))));
        t.add(Method.DELETE, "/api/ota/packages/{id}", r -> {
            Rollouts.await(actor.deletePackage(r.pathParam("id")));
            return ApiResponse.status(204);
        });
        // Devices download images without a token (they hold MQTT credentials, not API tokens); each checks what it
        // gets against the SHA-256 (and signature) of its offer.
        t.add(Method.GET, "/ota/images/{id}", Access.OPEN, this::image);
        t.add(Method.GET, "/api/ota/signing-key", Access.OPEN, r -> signingKey()); // a public key devices and tools fetch

        t.add(Method.POST, "/api/ota/rollouts", r -> ApiResponse.json(201, Rollouts.await(actor.createRollout(rolloutSpec(r.bodyJson())))));
        t.add(Method.GET, "/api/ota/rollouts", r -> ApiResponse.json(Rollouts.await(actor.rolloutsView())));
        t.add(Method.GET, "/api/ota/rollouts/{id}", r -> ApiResponse.json(Rollouts.await(actor.rolloutView(r.pathParam("id")))));
        t.add(Method.POST, "/api/ota/rollouts/{id}/{action}", r -> {
            Change change = switch (r.pathParam("action")) {
                case "pause" -> Change.PAUSE;
                case "resume" -> Change.RESUME;
                case "cancel" -> Change.CANCEL;
                case "advance" -> Change.ADVANCE;
                default -> throw ApiException.notFound("no rollout action '" + r.pathParam("action")
                        + "': use pause, resume, cancel or advance");
            };
            return ApiResponse.json(Rollouts.await(actor.changeRollout(r.pathParam("id"), change)));
        });

        t.add(Method.GET, "/api/ota/groups", r -> ApiResponse.json(ota.catalogue().groupsJson()));
        t.add(Method.GET, "/api/ota/groups/{name}", r -> ApiResponse.json(ota.catalogue().groupJson(r.pathParam("name"))));
        t.add(Method.PUT, "/api/ota/groups/{name}", r -> {
            String name = groupName(r.pathParam("name"));
            List<String> members = members(r.bodyJson());
            return ApiResponse.json(Rollouts.await(actor.putGroup(name, members)));
        });
        t.add(Method.DELETE, "/api/ota/groups/{name}", r -> {
            Rollouts.await(actor.deleteGroup(r.pathParam("name")));
            return ApiResponse.status(204);
        });
        t.add(Method.POST, "/api/ota/groups/{name}/link", r -> {
            JsonNode b = r.bodyJson();
            if (!b.isObject() || !b.path("package").isTextual()) {
                throw ApiException.badRequest("send {\"package\": \"<package id>\"}");
            }
            return ApiResponse.json(201, Rollouts.await(actor.link(r.pathParam("name"), b.get("package").asText())));
        });
        t.add(Method.DELETE, "/api/ota/groups/{name}/link", r -> ApiResponse.json(Rollouts.await(actor.unlink(r.pathParam("name")))));

        t.add(Method.GET, "/api/ota/devices", r -> ApiResponse.json(Rollouts.await(actor.devicesView())));
        t.add(Method.GET, "/api/ota/devices/{uid}", r -> ApiResponse.json(Rollouts.await(actor.deviceView(r.pathParam("uid")))));
    }

    // ---- packages ----

    private ApiResponse upload(ApiRequest r) throws IOException {
        String versionText = r.query("version").orElseThrow(() -> ApiException.badRequest(
                "say which version the image is: ?version=1.2.3 (major.minor.patch, optionally +build)"));
        PackageVersion version;
        try {
            version = PackageVersion.parse(versionText);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        String target = r.query("target").orElseThrow(() -> ApiException.badRequest(
                "say which hardware model or device group the image is for: ?target=model-x"));
        if (!target.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,127}")) {
            throw ApiException.badRequest("a target is letters, digits, '.', '_' and '-' (at most 128), got '" + target + "'");
        }
        String notes = r.query("notes").orElse("");
        if (notes.length() > 4096) {
            throw ApiException.badRequest("notes are at most 4096 characters");
        }
        String type = r.header("content-type").orElse(OCTETS).toLowerCase(Locale.ROOT);
        if (!type.startsWith(OCTETS)) {
            throw new ApiException(415, "unsupported media type", "send the image as the raw request body with "
                    + "Content-Type: application/octet-stream, not " + type);
        }
        byte[] image = r.body();
        if (image.length == 0) {
            throw ApiException.badRequest("the image is empty: send the firmware file as the request body");
        }
        if (image.length > ota.settings().maxImageBytes()) {
            throw ApiException.payloadTooLarge("the image has " + image.length + " bytes; the limit is "
                    + ota.settings().maxImageBytes() + " ([ota] max_image_bytes)");
        }
        // A cheap early refusal; the actor checks again when it commits, since another upload may race this one.
        for (OtaPackage q : ota.catalogue().allPackages()) {
            if (q.target().equals(target) && q.version().equals(version)) {
                throw Rollouts.conflict("version " + version + " for target " + target + " already exists as package " + q.id());
            }
        }
        String id = ota.rollouts.newId();
        ImageStore.Staged staged = ota.images.stage(id, image);
        Optional<String> signature = ota.signer().map(s -> Base64.getEncoder().encodeToString(s.sign(staged.sha256())));
        OtaPackage p = new OtaPackage(id, version, target, notes, staged.size(), staged.sha256Hex(), signature, ota.now());
        OtaPackage committed = Rollouts.await(ota.rollouts.addPackage(p, staged));
        return ApiResponse.json(201, committed.toJson()).withHeader("Location", "/api/ota/packages/" + committed.id());
    }

    private ApiResponse signingKey() {
        Signer s = ota.signer().orElseThrow(() -> ApiException.notFound(
                "packages are not signed: no signing key is configured ([ota] signing_key or signing_key_env)"));
        String b64 = Base64.getEncoder().encodeToString(s.publicKeyDer());
        String pem = "-----BEGIN PUBLIC KEY-----\n" + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(s.publicKeyDer())
                + "\n-----END PUBLIC KEY-----\n";
        return ApiResponse.json(Map.of("algorithm", "Ed25519", "signed", "the 32 bytes of the image's SHA-256",
                "publicKey", b64, "pem", pem));
    }

    // ---- images ----

    private ApiResponse image(ApiRequest r) throws IOException {
        String id = r.pathParam("id");
        OtaPackage p = ota.catalogue().pkg(id).orElseThrow(() -> ApiException.notFound("no image " + id));
        String etag = "\"" + p.sha256() + "\"";
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("ETag", etag);
        headers.put("Accept-Ranges", "bytes");
        headers.put("X-Checksum-Sha256", p.sha256());
        headers.put("Repr-Digest", "sha-256=:" + Base64.getEncoder().encodeToString(HexFormat.of().parseHex(p.sha256())) + ":");
        p.signature().ifPresent(s -> headers.put("X-Signature-Ed25519", s));
        headers.put("Content-Disposition", "attachment; filename=\"" + p.target() + "-" + p.version() + ".bin\"");
        Optional<String> ifNoneMatch = r.header("if-none-match");
        if (ifNoneMatch.isPresent() && matches(ifNoneMatch.get(), etag)) {
            return ApiResponse.status(304).withHeaders(headers);
        }
        ByteRange.Ask ask = ByteRange.parse(r.header("range"), p.size());
        Optional<String> ifRange = r.header("if-range");
        if (ifRange.isPresent() && !ifRange.get().strip().equals(etag)) {
            ask = new ByteRange.Whole();   // the device holds another image: start over with this one
        }
        Optional<String> device = r.query("device").filter(d -> Groups.memberProblem(d) == null);
        return switch (ask) {
            case ByteRange.Unsatisfiable u -> throw new ApiException(416, "range not satisfiable", "the image has "
                    + p.size() + " bytes; ask for a range that starts before that", Map.of("Content-Range", "bytes */" + p.size()));
            case ByteRange.Whole w -> {
                byte[] all = ota.images.bytes(id);
                device.ifPresent(d -> ota.rollouts.httpProgress(d, id, p.size()));
                ota.httpBytes.increment(all.length);
                yield new ApiResponse(200, OCTETS, all, headers);
            }
            case ByteRange.Part part -> {
                ByteRange range = part.range();
                byte[] bytes = ota.images.read(id, range.first(), (int) range.length());
                headers.put("Content-Range", "bytes " + range.first() + "-" + range.last() + "/" + p.size());
                device.ifPresent(d -> ota.rollouts.httpProgress(d, id, range.last() + 1));
                ota.httpBytes.increment(bytes.length);
                yield new ApiResponse(206, OCTETS, bytes, headers);
            }
        };
    }

    private static boolean matches(String ifNoneMatch, String etag) {
        for (String tag : ifNoneMatch.split(",")) {
            String t = tag.strip();
            if (t.startsWith("W/")) {
                t = t.substring(2);
            }
            if (t.equals("*") || t.equals(etag)) {
                return true;
            }
        }
        return false;
    }

    // ---- rollouts and groups ----

    static RolloutSpec rolloutSpec(JsonNode b) {
        if (!b.isObject()) {
            throw ApiException.badRequest("send a JSON object such as {\"package\": \"<id>\", \"devices\": [\"dev1\"]}");
        }
        for (Iterator<String> it = b.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!ROLLOUT_FIELDS.contains(f)) {
                throw ApiException.badRequest("unknown field \"" + f + "\"; a rollout has package, devices | group | pattern, "
                        + "stages, rollback and advance");
            }
        }
        if (!b.path("package").isTextual()) {
            throw ApiException.badRequest("\"package\" must be the id of a package (GET /api/ota/packages lists them)");
        }
        int targets = (b.has("devices") ? 1 : 0) + (b.has("group") ? 1 : 0) + (b.has("pattern") ? 1 : 0);
        if (targets != 1) {
            throw ApiException.badRequest("give exactly one of \"devices\" (a list of uids), \"group\" (a group name) or "
                    + "\"pattern\" (uids with '*', such as \"sensor-*\")");
        }
        Rollout.Target target;
        if (b.has("devices")) {
            List<String> devices = members(b);
            if (devices.isEmpty() || devices.stream().anyMatch(d -> d.indexOf('*') >= 0)) {
                throw ApiException.badRequest("\"devices\" is a non-empty list of device uids (use \"pattern\" for '*')");
            }
            target = new Rollout.Target(Rollout.TargetKind.DEVICES, devices, "");
        } else if (b.has("group")) {
            if (!b.get("group").isTextual()) {
                throw ApiException.badRequest("\"group\" must be a group name");
            }
            target = new Rollout.Target(Rollout.TargetKind.GROUP, List.of(), b.get("group").asText());
        } else {
            String pattern = b.get("pattern").isTextual() ? b.get("pattern").asText() : "";
            String problem = Groups.memberProblem(pattern);
            if (problem != null) {
                throw ApiException.badRequest("\"pattern\" must be a device uid pattern with '*', such as \"sensor-*\": " + problem);
            }
            target = new Rollout.Target(Rollout.TargetKind.PATTERN, List.of(), pattern);
        }
        int[] stages = {100};
        if (b.has("stages")) {
            JsonNode s = b.get("stages");
            if (!s.isArray() || s.isEmpty()) {
                throw ApiException.badRequest("\"stages\" is a list of percentages of the devices, rising to 100, such as [5, 100]");
            }
            stages = new int[s.size()];
            int previous = 0;
            for (int i = 0; i < s.size(); i++) {
                JsonNode x = s.get(i);
                if (!x.isIntegralNumber() || x.asInt() <= previous || x.asInt() > 100) {
                    throw ApiException.badRequest("\"stages\" must rise strictly from 1 to 100, such as [5, 100]; item "
                            + (i + 1) + " is " + x);
                }
                stages[i] = x.asInt();
                previous = stages[i];
            }
            if (stages[stages.length - 1] != 100) {
                throw ApiException.badRequest("the last stage must be 100 (every device), such as [5, 100]");
            }
        }
        if (b.has("rollback") && !b.get("rollback").isBoolean()) {
            throw ApiException.badRequest("\"rollback\" is true or false");
        }
        String advance = b.path("advance").asText("manual");
        if (!advance.equals("manual") && !advance.equals("auto")) {
            throw ApiException.badRequest("\"advance\" is \"manual\" (POST .../advance) or \"auto\" (when every device of "
                    + "the stage is installed)");
        }
        return new RolloutSpec(b.get("package").asText(), target, stages, b.path("rollback").asBoolean(false),
                advance.equals("auto"));
    }

    private static List<String> members(JsonNode b) {
        JsonNode d = b.path("devices");
        if (!d.isArray()) {
            throw ApiException.badRequest("send {\"devices\": [\"dev1\", \"sensor-*\", ...]}");
        }
        if (d.size() > 100_000) {
            throw ApiException.badRequest("at most 100000 devices at once");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode x : d) {
            String problem = x.isTextual() ? Groups.memberProblem(x.asText()) : "each device is a string";
            if (problem != null) {
                throw ApiException.badRequest("\"devices\": " + problem);
            }
            out.add(x.asText());
        }
        return out;
    }

    private static String groupName(String name) {
        if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,127}")) {
            throw ApiException.badRequest("a group name is letters, digits, '.', '_' and '-' (at most 128), got '" + name + "'");
        }
        return name;
    }
}
