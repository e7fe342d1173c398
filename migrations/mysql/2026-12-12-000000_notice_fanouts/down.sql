DROP TABLE notice_fanouts;
