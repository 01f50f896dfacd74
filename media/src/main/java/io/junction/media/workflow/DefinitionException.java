package io.junction.media.workflow;

/**
 * A workflow definition that cannot run; the message names the workflow, the step (1-based, with its type) and the
 * parameter, and says what is expected.
 */
public final class DefinitionException extends RuntimeException {

    public DefinitionException(String message) {
        super(message);
    }
}
