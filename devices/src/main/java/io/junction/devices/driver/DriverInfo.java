package io.junction.devices.driver;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/** A driver's id (unique on the server, kept when its code is replaced), the default module name, a description. */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface DriverInfo {

    /** Letters, digits, '_', '-' and '.'; 1 to 64 characters. */
    String id();

    /** The name modules of this driver get by default, such as {@code Display}. */
    String name() default "";

    String description() default "";
}
