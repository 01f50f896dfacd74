package io.junction.core.device;

import java.util.Objects;

/**
 * How a module is named in a system: its name and 1-based index, written {@code Display_1}. A name without an index
 * means the first one ({@code Display} is {@code Display_1}).
 */
public record ModuleRef(String name, int index) {

    public ModuleRef {
        Objects.requireNonNull(name, "name");
        if (name.isEmpty() || index < 1) {
            throw new IllegalArgumentException("a module reference needs a name and an index of 1 or more, as in Display_1");
        }
    }

    /** Reads {@code Display_2}; throws {@link IllegalArgumentException} saying what is wrong. */
    public static ModuleRef parse(String text) {
        int cut = text.lastIndexOf('_');
        if (cut > 0 && cut < text.length() - 1 && text.substring(cut + 1).chars().allMatch(Character::isDigit)) {
            String digits = text.substring(cut + 1);
            int index = digits.length() > 9 ? 0 : Integer.parseInt(digits);
            if (index < 1) {
                throw new IllegalArgumentException("'" + text + "': the index after '_' must be from 1 to 999999999, as in Display_1");
            }
            return new ModuleRef(text.substring(0, cut), index);
        }
        if (text.isEmpty()) {
            throw new IllegalArgumentException("a module reference needs a name, as in Display_1");
        }
        return new ModuleRef(text, 1);
    }

    @Override
    public String toString() {
        return name + "_" + index;
    }
}
