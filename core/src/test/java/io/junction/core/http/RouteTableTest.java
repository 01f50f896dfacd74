package io.junction.core.http;

import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RouteTableTest {

    private static final Handler OK = r -> ApiResponse.status(204);

    @Test
    void pathParamsAreDecodedFromTheirSegments() {
        RouteTable t = new RouteTable().add(Method.GET, "/api/devices/{uid}/status/{name}", OK);
        var found = (RouteTable.Found) t.lookup("GET", "/api/devices/b5%20ea/status/light%2Fbrightness");
        assertThat(found.pathParams()).isEqualTo(Map.of("uid", "b5 ea", "name", "light/brightness"));
        assertThat(found.pattern()).isEqualTo("/api/devices/{uid}/status/{name}");
        assertThat(found.handler()).isSameAs(OK);
    }

    @Test
    void unknownPathIsNotFoundAndKnownPathWithAnotherMethodIsNotAllowed() {
        RouteTable t = new RouteTable()
                .add(Method.GET, "/api/devices/{uid}", OK)
                .add(Method.DELETE, "/api/devices/{uid}", OK);
        assertThat(t.lookup("GET", "/api/nope")).isInstanceOf(RouteTable.NotFound.class);
        assertThat(t.lookup("GET", "/api/devices")).isInstanceOf(RouteTable.NotFound.class);
        assertThat(t.lookup("GET", "/api/devices/")).as("an empty segment is no uid").isInstanceOf(RouteTable.NotFound.class);
        assertThat(t.lookup("GET", "/api/devices/a/b")).isInstanceOf(RouteTable.NotFound.class);
        assertThat(t.lookup("POST", "/api/devices/a")).isEqualTo(new RouteTable.MethodNotAllowed(Set.of(Method.GET, Method.DELETE)));
        assertThat(t.lookup("HEAD", "/api/devices/a")).isInstanceOf(RouteTable.MethodNotAllowed.class);
        assertThat(t.lookup("delete", "/api/devices/a")).isInstanceOf(RouteTable.Found.class);
    }

    @Test
    void optionsRoutesAnswerPreflightsAndAreOpenByDefault() {
        RouteTable t = new RouteTable().add(Method.GET, "/hls/{file}", OK).add(Method.OPTIONS, "/hls/{file}", OK);
        RouteTable.Found f = (RouteTable.Found) t.lookup("OPTIONS", "/hls/index.m3u8");
        assertThat(f.method()).isEqualTo(Method.OPTIONS);
        assertThat(f.access()).as("browsers send preflights without credentials").isEqualTo(Access.OPEN);
        assertThat(t.lookup("POST", "/hls/index.m3u8")).isEqualTo(new RouteTable.MethodNotAllowed(Set.of(Method.GET, Method.OPTIONS)));
    }

    @Test
    void literalSegmentWinsOverAParameter() {
        Handler count = r -> ApiResponse.status(200);
        RouteTable t = new RouteTable()
                .add(Method.GET, "/api/devices/{uid}", OK)
                .add(Method.GET, "/api/devices/count", count);
        assertThat(((RouteTable.Found) t.lookup("GET", "/api/devices/count")).handler()).isSameAs(count);
        assertThat(((RouteTable.Found) t.lookup("GET", "/api/devices/other")).handler()).isSameAs(OK);
    }

    @Test
    void sameMethodAndShapeCannotBeRegisteredTwice() {
        RouteTable t = new RouteTable().add(Method.GET, "/api/devices/{uid}", OK);
        assertThatThrownBy(() -> t.add(Method.GET, "/api/devices/{id}", OK))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("already registered");
        t.add(Method.PUT, "/api/devices/{uid}", OK);
        assertThat(t.describe()).containsExactly("GET /api/devices/{uid}", "PUT /api/devices/{uid}");
    }

    @Test
    void routesListsMethodPatternAccessAndDescriptionInRegistrationOrder() {
        RouteTable t = new RouteTable()
                .add(Method.GET, "/api/health", Access.OPEN, "  whether every component is ready  ", OK)
                .add(Method.POST, "/api/commands", OK)
                .add(Method.DELETE, "/api/users/{name}", Access.ADMINISTRATOR, OK);
        assertThat(t.routes()).containsExactly(
                new RouteTable.RouteInfo(Method.GET, "/api/health", Access.OPEN, "whether every component is ready"),
                new RouteTable.RouteInfo(Method.POST, "/api/commands", Access.SUPPORT, ""),
                new RouteTable.RouteInfo(Method.DELETE, "/api/users/{name}", Access.ADMINISTRATOR, ""));
        assertThatThrownBy(() -> t.routes().clear()).as("a read-only view").isInstanceOf(UnsupportedOperationException.class);
        assertThat(((RouteTable.Found) t.lookup("GET", "/api/health")).access()).isEqualTo(Access.OPEN);
    }

    @Test
    void malformedPatternsAreRejectedWithTheReason() {
        RouteTable t = new RouteTable();
        assertThatThrownBy(() -> t.add(Method.GET, "api/x", OK)).hasMessageContaining("start with '/'");
        assertThatThrownBy(() -> t.add(Method.GET, "/api//x", OK)).hasMessageContaining("empty segment");
        assertThatThrownBy(() -> t.add(Method.GET, "/api/x/", OK)).hasMessageContaining("empty segment");
        assertThatThrownBy(() -> t.add(Method.GET, "/api/x{id}", OK)).hasMessageContaining("whole segment");
        assertThatThrownBy(() -> t.add(Method.GET, "/api/{1d}", OK)).hasMessageContaining("needs a name");
        assertThatThrownBy(() -> t.add(Method.GET, "/api/{a}/{a}", OK)).hasMessageContaining("twice");
    }

    @Test
    void badPercentEncodingMatchesNothing() {
        RouteTable t = new RouteTable().add(Method.GET, "/api/devices/{uid}", OK);
        assertThat(t.lookup("GET", "/api/devices/%zz")).isInstanceOf(RouteTable.NotFound.class);
        assertThat(t.lookup("GET", "/api/devices/%c3")).isInstanceOf(RouteTable.NotFound.class);
    }

    @Test
    void rootPathCanBeARoute() {
        RouteTable t = new RouteTable().add(Method.GET, "/", OK);
        assertThat(t.lookup("GET", "/")).isInstanceOf(RouteTable.Found.class);
    }

    @Test
    void apiExceptionRendersAsErrorAndDetail() {
        ApiResponse r = new ApiException(405, "method not allowed", "use GET", Map.of("Allow", "GET")).toResponse();
        assertThat(r.status()).isEqualTo(405);
        assertThat(r.bodyText()).isEqualTo("{\"error\":\"method not allowed\",\"detail\":\"use GET\"}");
        assertThat(r.headers()).containsEntry("Allow", "GET");
    }

    @Test
    void requestHelpersReadQueryHeadersAndJsonBody() {
        ApiRequest r = new ApiRequest(Method.POST, "/x", Map.of(), Map.of("limit", java.util.List.of("5", "6")),
                Map.of("content-type", java.util.List.of("application/json")), "{\"a\":1}".getBytes());
        assertThat(r.query("limit")).hasValue("5");
        assertThat(r.query("from")).isEmpty();
        assertThat(r.header("Content-Type")).hasValue("application/json");
        assertThat(r.bodyJson().get("a").asInt()).isEqualTo(1);
        ApiRequest bad = new ApiRequest(Method.POST, "/x", Map.of(), Map.of(), Map.of(), "{\"a\":".getBytes());
        assertThatThrownBy(bad::bodyJson).isInstanceOfSatisfying(ApiException.class, e -> {
            assertThat(e.status()).isEqualTo(400);
            assertThat(e.detail()).contains("not valid JSON");
        });
    }
}
