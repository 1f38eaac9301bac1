DROP TABLE chat_exchanges;
