package faultproxy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/faultproxy"
	"github.com/gokafka/kafka/testinstance"
)

// The faults, shown on a plain TCP echo server (it stands in for a broker,
// so that this example runs anywhere): a black hole holds data until Heal,
// a Reset breaks the connections in progress, new ones work.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	target := ln.Addr().String()

	g, err := faultproxy.NewGroup(target)
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	conn, err := g.DialContext(context.Background(), "tcp", target)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	// echo sends msg and waits up to wait for it to come back.
	echo := func(c net.Conn, msg string, wait time.Duration) {
		if msg != "" {
			c.Write([]byte(msg))
		}
		c.SetReadDeadline(time.Now().Add(wait))
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			fmt.Println("silence")
		case err != nil:
			fmt.Println("connection broken")
		default:
			fmt.Printf("%q\n", buf[:n])
		}
	}

	echo(conn, "hello", 5*time.Second)
	g.BlackHole()
	echo(conn, "anyone there?", 300*time.Millisecond)
	g.Heal()
	echo(conn, "", 5*time.Second) // what the black hole held
	fmt.Println("reset", g.Reset(), "connection")
	echo(conn, "still there?", 5*time.Second)

	again, err := g.DialContext(context.Background(), "tcp", target)
	if err != nil {
		log.Fatal(err)
	}
	defer again.Close()
	echo(again, "new connection", 5*time.Second)
	fmt.Println("accepted", g.Accepted(), "connections")

	_, err = g.DialContext(context.Background(), "tcp", "127.0.0.1:1")
	fmt.Println(errors.Is(err, faultproxy.ErrNotProxied))
	// Output:
	// "hello"
	// silence
	// "anyone there?"
	// reset 1 connection
	// connection broken
	// "new connection"
	// accepted 2 connections
	// true
}

// A producer through a network partition and a broker crash, on a
// throwaway cluster of its own (testinstance: it needs java and mvn, so go
// test compiles this example without running it).
func ExampleGroup() {
	ctx := context.Background()
	c, err := testinstance.Start(ctx, testinstance.Config{Brokers: 3, NoZooKeeper: true})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	g, err := faultproxy.NewGroup(c.Brokers()...)
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close() // after the client's Close: defers run last first

	client, err := kafka.NewClient(ctx, c.BootstrapServers(),
		kafka.WithDialer(g.DialContext), kafka.WithRequestTimeout(5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	topic, err := client.CreateTopic(ctx, "orders", kafka.TopicConfig{Partitions: 3, ReplicationFactor: 3})
	if err != nil {
		log.Fatal(err)
	}
	producer, err := topic.NewProducer(kafka.ProducerConfig{Sync: true, DeliveryTimeout: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer producer.Close(ctx)

	// A partition: the message fails within its DeliveryTimeout instead
	// of hanging.
	g.BlackHole()
	err = producer.Produce(ctx, []byte("into the void"))
	fmt.Println("in a black hole:", errors.Is(err, kafka.ErrDeliveryTimeout))
	g.Heal()

	// A crash: broker 0 killed with SIGKILL; its partitions move to the
	// other brokers, and the producer follows them.
	if err := c.KillBroker(0); err != nil {
		log.Fatal(err)
	}
	err = producer.Produce(ctx, []byte("while broker 0 is down"))
	fmt.Println("broker 0 killed:", err)
	if err := c.StartBroker(ctx, 0); err != nil {
		log.Fatal(err)
	}
}
