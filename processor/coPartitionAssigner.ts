import { AssignerProtocol, type PartitionAssigner } from "kafkajs";

// Gives every member the same partition numbers of every subscribed topic, so partition p of trade.orders and
// partition p of trade.payments (co-partitioned by order id) always land on the same member, which then owns
// the join state of those orders alone. Numbers are dealt round-robin over the members sorted by id, so every
// member computes the same plan.
//
// With several members the leader waits a moment before answering: librdkafka's mock Kafka (the dev stack)
// completes a rebalance on the leader's SyncGroup and answers a later follower's SyncGroup with
// INVALID_REQUEST, which kafkajs treats as fatal. Half a second lets the followers' SyncGroups arrive first; a
// real Kafka does not need it and loses only that half second per rebalance.
const LEADER_SYNC_DELAY_MS = 500;

export const CoPartitionAssigner: PartitionAssigner = ({ cluster }) => ({
  name: "CoPartitionAssigner",
  version: 1,

  async assign({ members, topics }) {
    if (members.length > 1) await new Promise((resolve) => setTimeout(resolve, LEADER_SYNC_DELAY_MS));
    const memberIds = members.map((m) => m.memberId).sort();
    const plan = new Map<string, Record<string, number[]>>(memberIds.map((id) => [id, {}]));
    for (const topic of topics) {
      const partitions = cluster
        .findTopicPartitionMetadata(topic)
        .map((p) => p.partitionId)
        .sort((a, b) => a - b);
      for (const partition of partitions) {
        const owner = memberIds[partition % memberIds.length] as string;
        const assignment = plan.get(owner) as Record<string, number[]>;
        assignment[topic] = [...(assignment[topic] ?? []), partition];
      }
    }
    return memberIds.map((memberId) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: this.version,
        assignment: plan.get(memberId) as Record<string, number[]>,
        userData: Buffer.alloc(0),
      }),
    }));
  },

  protocol({ topics }) {
    return {
      name: this.name,
      metadata: AssignerProtocol.MemberMetadata.encode({
        version: this.version,
        topics,
        userData: Buffer.alloc(0),
      }),
    };
  },
});
