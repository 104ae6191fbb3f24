// JavaMember is a member of a consumer group made with the Java client
// (kafka-clients, the reference implementation of the group protocol), for
// java_test.go. Run as a single-file program:
//
//	java -cp 'kafka_2.13-<version>/lib/*' JavaMember.java BROKERS GROUP TOPIC STRATEGY
//
// It prints one line per rebalance callback ("assigned 0,1", "revoked 2",
// "lost 3") and "closed" at the end; it leaves the group (close) when its
// stdin closes.
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.stream.Collectors;
import java.util.Collection;

import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.consumer.RoundRobinAssignor;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class JavaMember {
    static String nums(Collection<TopicPartition> ps) {
        return ps.stream().map(TopicPartition::partition).sorted().map(String::valueOf).collect(Collectors.joining(","));
    }

    static synchronized void say(String s) {
        System.out.println(s);
        System.out.flush();
    }

    public static void main(String[] args) throws Exception {
        String assignor;
        switch (args[3]) {
            case "cooperative-sticky": assignor = CooperativeStickyAssignor.class.getName(); break;
            case "roundrobin": assignor = RoundRobinAssignor.class.getName(); break;
            default: assignor = RangeAssignor.class.getName();
        }
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("group.id", args[1]);
        p.put("group.protocol", "classic");
        p.put("partition.assignment.strategy", assignor);
        p.put("session.timeout.ms", "6000");
        p.put("heartbeat.interval.ms", "500");
        p.put("enable.auto.commit", "false");
        p.put("client.id", "java-member");
        p.put("allow.auto.create.topics", "false");
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p);
        c.subscribe(List.of(args[2]), new ConsumerRebalanceListener() {
            public void onPartitionsRevoked(Collection<TopicPartition> ps) { say("revoked " + nums(ps)); }
            public void onPartitionsAssigned(Collection<TopicPartition> ps) { say("assigned " + nums(ps)); }
            public void onPartitionsLost(Collection<TopicPartition> ps) { say("lost " + nums(ps)); }
        });
        Thread stdin = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                }
            } catch (Exception e) {
            }
            c.wakeup();
        });
        stdin.setDaemon(true);
        stdin.start();
        try {
            while (true) {
                c.poll(Duration.ofMillis(100));
            }
        } catch (WakeupException e) {
            // stdin closed: leave
        } finally {
            c.close();
            say("closed");
        }
    }
}
