package io.junction.devices.driver;

import io.junction.core.auth.Role;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/** Marks a public method of a {@link Driver} as a function clients may call; {@code role} is who may call it. */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface Callable {

    /** The least role a caller needs; support and administrator functions appear under {@code security} in the metadata. */
    Role role() default Role.USER;
}
