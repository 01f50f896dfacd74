package io.junction.media.workflow;

/**
 * A workflow definition refused because its {@code forward_to_workflow} steps would close a loop with the workflows
 * already defined: a stream would go round forever. The message names the loop.
 */
public final class ForwardLoopException extends RuntimeException {

    public ForwardLoopException(String message) {
        super(message, null, false, false);
    }
}
