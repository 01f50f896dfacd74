package io.junction.devices.driver;

import java.lang.annotation.ElementType;
import java.lang.annotation.Repeatable;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/** A module this driver needs in its system ({@code Display_1}) and the interfaces that module must implement. */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@Repeatable(Requires.List.class)
public @interface Requires {

    String module();

    String[] interfaces() default {};

    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    @interface List {
        Requires[] value();
    }
}
