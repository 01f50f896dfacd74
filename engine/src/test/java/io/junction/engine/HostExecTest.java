package io.junction.engine;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;
import io.junction.core.device.FunctionCalls;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A script's exec: addressed by module id or system/Name_index, as the owner, never during a replay. */
class HostExecTest {

    final List<String> calls = new CopyOnWriteArrayList<>();
    final FunctionCalls recorder = new FunctionCalls() {
        @Override
        public CompletableFuture<JsonNode> exec(Principal caller, String moduleId, String function, JsonNode args) {
            calls.add(caller.user() + ":" + moduleId + "." + function + args);
            return CompletableFuture.completedFuture(Json.object().put("ok", true));
        }

        @Override
        public CompletableFuture<JsonNode> exec(Principal caller, String systemId, String module, int index, String function, JsonNode args) {
            calls.add(caller.user() + ":" + systemId + "/" + module + "#" + index + "." + function + args);
            return CompletableFuture.failedFuture(new IllegalArgumentException("no such module"));
        }
    };
    final Principal owner = new Principal("sam", Role.SUPPORT);

    Host host(boolean live) {
        return new Host(Optional.empty(), "s", List.of("#"), new LogRing("s"), Optional.of(recorder), owner, 1_000, live);
    }

    @Test
    void execGoesToTheModuleAsTheOwner() {
        assertThat(host(true).execJson("pump", "power", "{\"state\":true}")).isEqualTo("{\"ok\":true}");
        assertThat(calls).containsExactly("sam:pump.power{\"state\":true}");
    }

    @Test
    void aSystemReferenceIsResolvedByNameAndIndexAndAFailureSaysWhy() {
        assertThatThrownBy(() -> host(true).execJson("room/Display_2", "power", "null"))
                .hasMessage("exec room/Display_2.power failed: no such module");
        assertThat(calls).containsExactly("sam:room/Display#2.powernull");
    }

    @Test
    void aReplayCannotExec() {
        assertThatThrownBy(() -> host(false).execJson("pump", "power", "null")).hasMessageContaining("not available while replaying");
        assertThat(calls).isEmpty();
    }
}
