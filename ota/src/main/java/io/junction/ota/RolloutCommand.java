package io.junction.ota;

import com.fasterxml.jackson.databind.node.ObjectNode;

import io.junction.core.actor.Request;
import io.junction.core.stream.StreamEntry;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** What the {@link Rollouts} actor's mailbox carries: device traffic, its own timers, and the API's typed requests. */
sealed interface RolloutCommand {

    /** The first command: arm the timers of the rollouts the actor was started with. */
    record Started() implements RolloutCommand {
    }

    // ---- from devices ----

    /** Device requests read from the raw stream, in offset order; answered once they are applied. */
    record DeviceRequests(List<StreamEntry> batch, CompletableFuture<Void> reply) implements RolloutCommand, Request<Void> {
    }

    /** The raw-stream follower has looked at every entry below {@code next}: the state may say it covers them. */
    record Followed(long next) implements RolloutCommand {
    }

    /** A device connected: offer what is pending for it. */
    record Connected(String uid) implements RolloutCommand {
    }

    /** A device fetched image bytes over HTTP ({@code ?device=uid}) up to {@code end}; advisory. */
    record HttpProgress(String uid, String packageId, long end) implements RolloutCommand {
    }

    // ---- timers ----

    /** Timer: an offer reached no subscriber (the device had not subscribed yet); send it again. */
    record Reoffer(String uid, String rollout, int attempt) implements RolloutCommand {
    }

    /** Timer: a device offered or downloading in a rollout may have been silent too long. */
    record CheckTimeout(String rollout, String uid) implements RolloutCommand {
    }

    /** Timer: an auto-advancing rollout may have finished its stage. */
    record CheckStage(String rollout) implements RolloutCommand {
    }

    /** Timer: write the device changes of the last second to the state port. */
    record Flush() implements RolloutCommand {
    }

    // ---- from the API (the routes validated what they carry) ----

    /** Writes every change now (on close, and in tests as a round trip after which due timers have fired). */
    record Save(CompletableFuture<Void> reply) implements RolloutCommand, Request<Void> {
    }

    /** Adds a package whose image is staged; a duplicate version for its target is a conflict. */
    record AddPackage(OtaPackage pkg, ImageStore.Staged staged, CompletableFuture<OtaPackage> reply)
            implements RolloutCommand, Request<OtaPackage> {
    }

    /** Deletes a package no active or paused rollout uses, and its image. */
    record DeletePackage(String id, CompletableFuture<Void> reply) implements RolloutCommand, Request<Void> {
    }

    /** Starts a rollout; answers its view with every device. */
    record CreateRollout(RolloutSpec spec, CompletableFuture<ObjectNode> reply) implements RolloutCommand, Request<ObjectNode> {
    }

    /** Pauses, resumes, cancels or advances a rollout; answers its view. */
    record ChangeRollout(String id, Change change, CompletableFuture<ObjectNode> reply)
            implements RolloutCommand, Request<ObjectNode> {
    }

    /** Creates or replaces a group made over the API; answers its view. */
    record PutGroup(String name, List<String> members, CompletableFuture<ObjectNode> reply)
            implements RolloutCommand, Request<ObjectNode> {
    }

    /** Deletes a group made over the API that no rollout uses. */
    record DeleteGroup(String name, CompletableFuture<Void> reply) implements RolloutCommand, Request<Void> {
    }

    /** Links a package to a group (Pyrinas): a rollout of it to every member, now and later; a previous link ends. */
    record Link(String group, String packageId, CompletableFuture<ObjectNode> reply) implements RolloutCommand, Request<ObjectNode> {
    }

    /** Ends a group's link (cancels its rollout); answers the rollout's view. */
    record Unlink(String group, CompletableFuture<ObjectNode> reply) implements RolloutCommand, Request<ObjectNode> {
    }

    /** Every rollout's summary. */
    record ListRollouts(CompletableFuture<ObjectNode> reply) implements RolloutCommand, Request<ObjectNode> {
    }

    /** One rollout with every device's state. */
    record GetRollout(String id, CompletableFuture<ObjectNode> reply) implements RolloutCommand, Request<ObjectNode> {
    }

    /** Every device the OTA service has met. */
    record ListDevices(CompletableFuture<ObjectNode> reply) implements RolloutCommand, Request<ObjectNode> {
    }

    /** One device: its firmware, how it talks, and its state in every rollout that includes it. */
    record GetDevice(String uid, CompletableFuture<ObjectNode> reply) implements RolloutCommand, Request<ObjectNode> {
    }

    /** What a new rollout is asked to be; validated by the routes, checked against the state by the actor. */
    record RolloutSpec(String packageId, Rollout.Target target, int[] stages, boolean rollback, boolean autoAdvance) {
    }

    /** What {@link ChangeRollout} does. */
    enum Change { PAUSE, RESUME, CANCEL, ADVANCE }
}
