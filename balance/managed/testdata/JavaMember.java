// JavaMember is a member of a consumer group made with the Java client
// (kafka-clients, the reference implementation of the group protocol), for
// java_test.go. Run as a single-file program:
//
//	java -cp 'kafka_2.13-<version>/lib/*' JavaMember.java BROKERS GROUP STRATEGY TOPIC...
//	java -cp 'kafka_2.13-<version>/lib/*' JavaMember.java BROKERS GROUP STRATEGY --pattern REGEX
//
// It subscribes to the topics, or to the pattern (the Java client matches
// it against the whole topic name, in metadata refreshed every second). It
// prints one line per rebalance callback ("assigned t/0,t/1,u/0", "revoked
// t/2", "lost u/3") and "closed" at the end; it leaves the group (close)
// when its stdin closes.
import java.time.Duration;
import java.util.Properties;
import java.util.stream.Collectors;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.regex.Pattern;

import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.consumer.RoundRobinAssignor;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class JavaMember {
    static String names(Collection<TopicPartition> ps) {
        return ps.stream()
                .sorted(Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition))
                .map(tp -> tp.topic() + "/" + tp.partition())
                .collect(Collectors.joining(","));
    }

    static synchronized void say(String s) {
        System.out.println(s);
        System.out.flush();
    }

    public static void main(String[] args) throws Exception {
        String assignor;
        switch (args[2]) {
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
        p.put("metadata.max.age.ms", "1000");
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p);
        ConsumerRebalanceListener listener = new ConsumerRebalanceListener() {
            public void onPartitionsRevoked(Collection<TopicPartition> ps) { say("revoked " + names(ps)); }
            public void onPartitionsAssigned(Collection<TopicPartition> ps) { say("assigned " + names(ps)); }
            public void onPartitionsLost(Collection<TopicPartition> ps) { say("lost " + names(ps)); }
        };
        if (args[3].equals("--pattern")) {
            c.subscribe(Pattern.compile(args[4]), listener);
        } else {
            c.subscribe(Arrays.asList(args).subList(3, args.length), listener);
        }
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
