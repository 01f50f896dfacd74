package io.junction.devices.driver;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Names a parameter of a {@link Callable} function (Java does not keep names by default), with an optional default
 * given as JSON text ({@code "200"}, {@code "\"hdmi\""}, {@code "true"}) and, for a {@code JsonNode} parameter, the
 * types it accepts (a union such as {@code {"String", "Int32"}}).
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.PARAMETER)
public @interface Arg {

    String value();

    /** The default as JSON text; empty means the argument is required. */
    String fallback() default "";

    /** For a {@code JsonNode} parameter: the types accepted ({@code String, Int32, Int64, Float64, Bool, Object, Array, JSON}). */
    String[] types() default {};
}
